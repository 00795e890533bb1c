// OCI image layouts as layer sources.
