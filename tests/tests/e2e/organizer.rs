//! What an organizer trips over (issue 16, the server's side).
