"""The starter knowledge base, shipped inside the package as ``healthkb.starter``."""
