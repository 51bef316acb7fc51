"""What crosses between partners: the signed request format, the feed's message schemas and the conversion
of feed items.
"""
