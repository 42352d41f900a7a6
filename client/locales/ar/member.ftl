# member messages
