"""Family folders that live outside ``parley_connectors`` (added with ``add_folder``)."""
