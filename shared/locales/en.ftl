# The platform's messages: errors and validation every function can answer,
# and the notices the platform itself writes. French in fr.ftl, same ids.

## Errors

not-found = { $what } not found
route-not-found = Not Found
thing-session = Session
thing-notification = Notification
method-not-allowed = Method Not Allowed
payload-too-large = Request body too large
body-unreadable = The request body could not be read
validation-failed = Validation failed
unavailable = Service temporarily unavailable
internal-error = Internal server error
not-authenticated = Not authenticated
invalid-token = Invalid authentication token
auth-unavailable = Authentication is temporarily unavailable
session-revoked = Session revoked; sign in again
account-deleted = This account has been deleted
rate-limited = Rate limit exceeded
flood-blocked = Too many requests from this address; try again later
sign-in-locked = Too many failed sign-in attempts; try again later
too-many-sockets-user = Too many open connections for this user
too-many-sockets-address = Too many open connections from this address
idempotency-in-progress = A request with this Idempotency-Key is in progress
unsupported-media-type = Unsupported media type: send { $expected }

## Fields (a 422's message is "field: problem; ...")

field-problem = { $field }: { $problem }
field-required = Field required
json-invalid = The body is not valid JSON
value-invalid = Invalid value
must-be-between = must be between { $min } and { $max }
at-most-characters = must be at most { $max } characters
length-between = must be { $min } to { $max } characters
must-not-be-empty = must not be empty
at-most-items = at most { $max } items
must-be-positive = must be greater than 0
no-nul-characters = must not contain NUL characters
idempotency-key-reused = was already used with a different request

## Notices

new-sign-in = New sign-in
    .body = New sign-in from { $device }

## Acknowledgements (the `message` of `{ message, success }`)

ack-signed-out-everywhere = Signed out on every device
ack-session-revoked = Session revoked
ack-notification-dismissed = Notification dismissed
