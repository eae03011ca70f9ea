"""bench's version, in a module of its own: the layers read it from here, never from the package
root, whose lazy SDK names (bench.sdk) import the layers in turn."""
__version__ = "0.1.0"
