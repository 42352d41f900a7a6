# contact messages: what a trusted contact reads (`aman contact accept`,
# `aman alerts`, `aman alerts watch`, `aman notify`, `aman verify`).
# Each file has its twin in ../ar/; a unit test keeps their ids and
# variables the same. Layout (line breaks, indentation) stays in the code.

## Alert reasons: a headline that follows the member's name, and what to do.

contact-reason-missed = did not check in by their deadline
contact-reason-missed-todo = Try to reach them now. If you cannot, follow the plan you agreed on (their note below says where they were).
contact-reason-duress = checked in with their DURESS passphrase: someone may be forcing them
contact-reason-duress-todo = Their check-in looked normal to whoever was with them. Do not call or message them in a way that could reveal this alert; follow the plan you agreed on.
contact-reason-panic = pressed PANIC: they asked for help now
contact-reason-panic-todo = Act now: follow the plan you agreed on. Their note below says what they know.
contact-reason-drill = is testing their safety net: this is a DRILL, nothing has happened
contact-reason-drill-todo = Acknowledge it with `aman alerts ack ID` to show you would have seen it.
contact-reason-unknown = sent an alert of a kind this version does not know
contact-reason-unknown-todo = Update aman, and try to reach them.

contact-drill-line = DRILL: { $member } is testing their safety net — nothing has happened. Acknowledge it with `aman alerts ack { $id }` to show you would have seen it.
contact-drill-shows = Below is what you would read in a real alert.

## Notices attached to an alert, and what to do.

contact-alert-notice-late = They checked in after this alert fired
contact-alert-notice-late-todo = A check-in can be forced: confirm with them in a way only they would answer.
contact-alert-notice-acked = Another contact acknowledged this alert
contact-alert-notice-acked-todo = Coordinate with the other contacts.
contact-alert-notice-unknown = The server added a note of a kind this version does not know
contact-alert-notice-unknown-todo = Update aman.

## Account notices (a change to the member's protection): a phrase that
## follows the member's name, and what to do.

contact-account-notice-weakening = asked for a change that weakens their protection (a longer schedule, checking in only on trips, a contact removed, or alerts paused)
contact-account-notice-weakening-todo = If they did not tell you about it, ask them in person: someone may be forcing them. It waits until the time shown, so there is time to act.
contact-account-notice-rotation = is changing the keys they check in with
contact-account-notice-rotation-todo = If they did not tell you, ask them in person: someone holding their phone could be doing this.
contact-account-notice-deletion = asked to delete their account: alerts stop when it applies
contact-account-notice-deletion-todo = If they did not tell you, ask them in person before that time.
contact-account-notice-linked = linked a new trusted contact
contact-account-notice-linked-todo = If they did not tell you, ask them: someone holding their phone could be adding a contact of their own.
contact-account-notice-cancelled = cancelled a pending change
contact-account-notice-cancelled-todo = Nothing to do.
contact-account-notice-unknown = made a change this version does not know
contact-account-notice-unknown-todo = Update aman, and ask them about it.

## `aman contact accept`

contact-invalid-invite = that is not a valid invite code: { $error }
contact-label-taken = a member is already labelled `{ $label }`
contact-accepted = You are now a trusted contact of { $member }.
contact-safety-number-heading = Safety number (compare it with theirs in person):
contact-one-passphrase = This keystore has one passphrase. (A duress passphrase matters to members, whose check-in with it silently alerts their contacts; for you it would only open this keystore too. Make one with `--duress-passphrase` if you want it.)
contact-duress-opens-too = Your duress passphrase opens this keystore too. It sends nothing: as a contact you have no check-ins.
contact-nothing-wakes-you = Nothing will wake you when an alert comes: add a channel (`aman notify add ntfy URL`, `webhook URL` or `email ADDRESS`), or keep `aman alerts watch` running.
contact-channel-covers = Your { $kind } channel { $target } now covers { $member } too.
contact-channel-failed = WARNING: your { $kind } channel { $target } could not be added for { $member } ({ $error }): it will not wake you for them.
contact-webhook-secret = Webhook signing secret for { $member } (shown once; requests carry an HMAC-SHA256 signature with it): { $secret }

## Warnings about one alert (in English in `--json`).

contact-warning-no-note = the member had not sealed a note
contact-warning-other-account = the sealed note names another account: do not trust it
contact-warning-older-than-earlier = this note is older than the note of an earlier alert: the server may be showing an old note
contact-warning-stale-note = this note was written { $written } and is older than the member's latest check-in ({ $checkin }), which vouched for another note
contact-warning-forged = the note is NOT signed by the member: it may be forged
contact-warning-undecryptable = the note could not be decrypted with your key
contact-warning-fired-early = the server says this alert fired before the deadline it was for: do not trust its times

## Why a relayed heartbeat was ignored (in English in `--json`).

contact-heartbeat-not-signed = not signed by the member
contact-heartbeat-other-account = names another account
contact-heartbeat-other-server = made for another server
contact-heartbeat-not-newer = not newer than the one already seen
contact-heartbeat-counter-leap = its counter leaps too far ahead
contact-heartbeat-future = signed in the future
contact-heartbeat-bad-schedule = announces a schedule no server accepts
contact-heartbeat-ignored = NOTE: a heartbeat relayed for { $member } was ignored ({ $why }).

## `aman alerts`: one alert, one notice.

contact-no-alerts = No alerts.
contact-alert-line = ALERT: { $member } { $what } (alert { $id }, { $fired }).
contact-drill-ref = (drill { $id }, { $fired }).
contact-server-was-down = The server had been down before this deadline.
contact-what-to-do = What to do: { $todo }
contact-note-empty = (empty)
contact-note = Note: { $note }
contact-note-written = Note (written { $written }): { $note }
contact-location = Location: { $location }
contact-location-written = Location (written { $written }): { $location }
contact-their-plan = Their plan:
contact-their-plan-then = Their plan then:
contact-earlier-note-written = Earlier note (written { $written }): { $note }
contact-earlier-note-sealed = Earlier note (received { $received }): sealed so that you cannot open it
# $check is empty, or a space and contact-notice-verified or -unverified.
contact-alert-notice-line = { $what } at { $at }{ $check }. { $todo }
contact-notice-verified = (verified: the member's device signed a check-in after the alert)
contact-notice-unverified = (UNVERIFIED: no check-in signed by the member's device since the alert; the server's word only)
contact-acked-by-you = Acknowledged by you at { $at }
contact-acked-by = Acknowledged by { $by } at { $at }, the server says: check with them before you stand down
contact-another-contact = another contact
contact-alert-warning = WARNING: { $warning }
contact-notice-line = NOTICE: { $member } { $what } ({ $at }).
contact-notice-receives-from = They receive alerts from { $at }.
contact-notice-applies-at = It applies at { $at }.
contact-notice-safety-number = The new contact's safety number begins { $prefix }.

## A deadline passed with no alert to show for it.

contact-unconfirmed = WARNING: no sign of life from { $member } since { $since }; { $deadline } and { $server }. Try to reach { $member } now, and follow your plan if you cannot.
contact-unconfirmed-deadline = their deadline was { $at }
contact-unconfirmed-stood-down = they said no check-in was due (between trips), but that vouches for them only until { $at }
contact-unconfirmed-not-confirmed = the server has not confirmed an alert
contact-unconfirmed-cannot-confirm = the server could not confirm an alert (it cannot be reached, or refused to answer)

## `aman alerts watch`

contact-watch-start = Watching { $count } member(s) for alerts and notices. Leave this running.
contact-watch-unreachable = Cannot reach { $member }'s server ({ $error }). Still watching: trying again, and warning you if their deadline passes.
contact-watch-back = { $member }'s server answers again.
contact-watch-still = Still watching { $count } member(s); last checked { $when }.
contact-watch-never = never
contact-watch-down = { $count } server(s) cannot be reached now.

## `aman alerts ack`

contact-prefix-too-short = give at least the first 4 characters of the alert id
contact-prefix-none = no alert id starts with `{ $prefix }` (`aman alerts --all` lists them)
contact-prefix-ambiguous = `{ $prefix }` is the start of { $count } alert ids ({ $ids }): give more of it
contact-acked = Acknowledged. Escalation stops, and { $member }'s other contacts are told.
contact-no-such-alert = no alert { $id } in your mailboxes

## `aman notify`

contact-notify-added = Added { $kind } notification { $id }. Notifications say only that something is waiting (an alert, or news about a member): run `aman alerts`.
contact-notify-none = No notification channels. Add one with `aman notify add webhook URL | ntfy URL | email ADDRESS`.
contact-notify-covers-all = wakes you for all { $count } member(s)
contact-notify-covers-some = wakes you for { $covered } of { $count } member(s)
contact-no-such-channel = no notification channel { $id }
contact-notify-removed = Removed notification channel { $id }.

## `aman verify`

contact-verify-your-contact = your contact { $label }: { $number }
contact-verify-member = member { $label }: { $number }
contact-verify-none = No paired keys yet.
contact-server-down-fresh = { $member }'s server { $server } cannot be reached; the member's newest heartbeat (signed { $at }) came through another of their servers.
contact-server-down = { $member }'s server { $server } cannot be reached; the others were read.
contact-alert-servers = Fired by: { $servers }
contact-server-listed = { $member } also uses { $server } now (their sealed list of servers says so). This device reads it from { $from }: a server added against the member's will is noticed first.
