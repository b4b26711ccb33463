"""What the tools are built with, below them and below nothing the server owns: the @tool registry, error
results, the state a call reaches, the confirmation question, the write path and file input."""
