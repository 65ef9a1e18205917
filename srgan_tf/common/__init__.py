"""What every part of the library shares: image conventions, image files, atomic writes, console output."""
