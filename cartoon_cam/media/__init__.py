"""Media files in, media files out: the batch conversion of photos and videos through a style
(:mod:`.convert`, the engine behind ``cartoon-cam convert``). Qt-free; it uses
:mod:`cartoon_cam.inference` and the file rules of :mod:`cartoon_cam.files`."""
