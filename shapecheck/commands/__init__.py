"""One module per subcommand. Each exposes ``register(subparsers)``; the module must stay cheap to import
(numpy, onnx and the engine are imported inside the command's ``run``)."""
