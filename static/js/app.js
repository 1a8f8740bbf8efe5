// filled in with the task pages
