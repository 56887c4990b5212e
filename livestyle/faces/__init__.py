"""Faces: the crop rule shared by training and the runtime, the face detector, and steady face tracks."""
