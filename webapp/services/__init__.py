"""Use cases. Each public function owns its transaction; views call exactly one."""
