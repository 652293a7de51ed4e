"""artiphys-course: probe artificial and biological visual neurons with the same tools."""

from artiphys_course.runtime import data_dir, get_device, offline, progress_bar, seed_everything

__version__ = "0.1.0"

__all__ = ["data_dir", "get_device", "offline", "progress_bar", "seed_everything"]
