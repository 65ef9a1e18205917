"""The networks (generator, discriminator, VGG features), their layers and the losses that train them."""
