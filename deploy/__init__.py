"""Deployment files and the local cluster of ./dev.py cluster."""
