"""Running a model: the Stylizer, its backends and engines, model selection, faces mode, the stabiliser."""
