"""Input rules shared by every layer: marshmallow base schemas and terms, safe names, file names and media
types.
"""
