"""The built-in channel plugins. Each registers through the ``canales`` entry-point
group, exactly as a third-party plugin does, and is enabled per site."""
