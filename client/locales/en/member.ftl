# member messages
# What the member's commands say: account, contacts, schedule, check-in,
# trips, panic, status, reminders, plan, drills, settings, passphrases.
# Each file has its twin in ../ar/; a unit test keeps their ids and
# variables the same. Layout (line breaks, indentation, padding) stays in
# the code: one message is one sentence or one line.

## Account

member-old-account = this account was made by aman 0.1 and its server now speaks protocol version 2: make a new account with `aman init`
member-no-account = this keystore has no member account (run `aman init`)
member-init-created = Account created on { $server }.
member-init-no-contact = No contact is linked yet: nobody will be alerted until one is.
member-init-next = Next: `aman contact invite --label NAME` for each trusted contact, then `aman schedule set --every 6h --grace 30m`.
member-server-id-mismatch = the server's id does not match its key: something is wrong, do not register here
member-invite-damaged = the invite code is damaged: ask the organizer for it again
member-wrong-server = this is not the server the invite was made for: someone may be between you and it. Do not continue; tell the organizer.

## Contacts

member-tier-range = --tier runs from 1 to 9
member-label-taken = a contact is already labelled `{ $label }`
member-invite-give = Give this code to { $label } in person or over a channel you trust (valid 7 days):
member-invite-linked-once = { $label } is linked, and alerted, once they accept it and you next use aman. Your contacts read the names you give each other (they tell who acknowledged an alert).
member-bad-invite-secret = bad invite secret
member-contact-linked = { $label } accepted your invite and is now linked (compare safety numbers: `aman verify`).
member-invite-forged = The invite for { $label } was answered by someone who does not hold it: it was dropped. Invite { $label } again.
member-no-contact-warning = WARNING: no contact is linked: nobody will be alerted. Invite one with `aman contact invite --label NAME`; an invited contact is linked once they accept.
member-invited-not-accepted = { $count ->
    [one] ({ $count } invited, not yet accepted)
   *[other] ({ $count } invited, not yet accepted)
}
member-contact-state-linked = linked
member-contact-linked-until = linked until { $time }
member-contact-tier = tier { $tier }
member-contact-safety-number = safety number { $number }
member-contact-invited-waiting = invited, waiting for them to accept
member-contact-list-forged = the invite was answered by someone who does not hold it (not { $label }): it was dropped. Invite { $label } again, and pass the new code only to them.
member-no-contacts = No contacts yet. `aman contact invite --label NAME` makes an invite code.
member-no-such-contact = no contact labelled `{ $label }`
member-contact-removed-at = { $label } will be removed at { $time }. Until then they still receive alerts, and every contact has been told.
member-removal-dropped = Removing { $labels } waited with it and is dropped too: run `aman contact remove` again if you still want it.

## Schedule

member-schedule = Schedule: { $schedule }.
member-schedule-applies-now = Applies now.
member-schedule-applies-at = Applies at { $time } (it weakens your protection, so it waits; your contacts were told). Until then the old schedule holds.
member-schedule-next-due = Next check-in due by { $due }; alert at { $deadline }.
member-schedule-check-in-yourself = Check in with `aman checkin`: nothing checks in for you.
member-schedule-at = check in at { $times } ({ $tz }), alert after { $grace } more
member-schedule-every = check in every { $every }, alert after { $grace } more
member-schedule-trips-only = trips only: no check-in is due between trips, a trip lasts at most { $max }, alert { $grace } after its return time
member-no-schedule = No schedule set: `aman schedule set --every 6h --grace 30m` (or `--at 09:00,21:00`).
member-schedule-trip-hint = `aman trip start --back-by 18:00` starts one; `aman trip end` when you are back.
member-schedule-next-dues = Checking in now (or at the time given), the next check-ins are due by:
member-schedule-on-trip = On a trip: back by { $time } (`aman trip end` returns to this schedule).
member-pause-until-time = Pause until { $time } (you are due then, plus your grace): no alert for a missed check-in.
member-pause-until-resume = Pause until you run `aman schedule resume`: no alert for a missed check-in.
member-pause-applies-now = It applies now; until then your schedule holds.
member-pause-applies-at = It applies at { $time } (it weakens your protection, so it waits; your contacts were told); until then your schedule holds.
member-resume-over = Pause over: your schedule is back.
member-resume-schedule-dropped = The schedule change that was waiting with it is dropped too.

## Check-in

member-no-schedule-yet = no schedule yet: run `aman schedule set --every 6h --grace 30m` first
member-counter-far = the server reports check-in counter { $server }, far beyond this device's { $device }: refusing to follow it
member-counter-refused = the server kept refusing the check-in counter
member-counter-mismatch = the server answered for check-in counter { $got } instead of { $sent }
member-checked-in = Checked in. Next check-in due by { $due }; { $who ->
    [linked] your contacts are alerted
   *[none] the alert would go
} at { $deadline } if you have not checked in.
member-checked-in-every = Checked in. Next check-in due by { $due } (in { $every }); { $who ->
    [linked] your contacts are alerted
   *[none] the alert would go
} at { $deadline } if you have not checked in.
member-checked-in-trips-only = Checked in. No check-in is due until your next trip (`aman trip start --back-by 18:00`).
member-on-trip-back-by = On a trip: back by { $time }.
member-trip-hint = `aman trip extend 30m` gives more time; `aman trip end` when you are back.
member-checkin-trip-ended = Your trip's return time had passed: this check-in ends it.

## Keys, panic

member-rotate-both = type both passphrases: the normal and the duress one, in any order
member-rotate-done = New check-in keys take over at { $time } (after the server's cooling-off period; your contacts were told). Both passphrases stay the same.
member-panic-sent = Panic alert { $alert } sent to your contacts.

## Status

member-status-reachable = Server { $server } is reachable.
member-status-reachable-proxy = Server { $server } is reachable through the proxy { $proxy }.
member-status-next-due = Next check-in due by { $due }; alert at { $deadline } ({ $left } left).
member-status-trips-only = No check-in is due: trips only, and no trip under way (`aman trip start --back-by 18:00`).
member-status-not-armed = Not armed: check in to arm the switch.
member-status-paused = Paused: no alert for a missed check-in (`aman schedule resume` ends it).
member-status-paused-until = Paused until { $until }: no alert for a missed check-in (`aman schedule resume` ends it).
member-status-paused-from = Paused from { $from }: no alert for a missed check-in (`aman schedule resume` ends it).
member-status-paused-from-until = Paused from { $from } until { $until }: no alert for a missed check-in (`aman schedule resume` ends it).
member-status-on-trip = On a trip: back by { $time } ({ $left } left); `aman trip end` when you are back.
member-status-contacts = { $linked ->
    [one] { $linked } linked contact(s)
   *[other] { $linked } linked contact(s)
}, { $invited ->
    [one] { $invited } invited
   *[other] { $invited } invited
}.
member-pending-weakening = A change weakening your protection
member-pending-keys = New check-in keys
member-pending-deletion = Deleting this account
member-pending-unknown = A change this version of aman does not know
member-pending-applies-at = { $what } applies at { $time }.
member-pending-waiting = { $what } is waiting.
member-status-unreachable = Server { $server } cannot be reached.
member-status-last-known = Last known (as the server said at { $at }): next check-in due by { $due }; alert at { $deadline }.
member-status-last-known-passed = Last known (as the server said at { $at }): next check-in due by { $due }; alert at { $deadline }, which has passed.
member-status-last-known-not-armed = Last known: not armed.
member-status-nothing-known = Nothing is known yet of the server's deadline.

## Trips

member-trip-no-schedule = set a schedule first (`aman schedule set --every 6h --grace 30m`, or `--trips-only --max-trip 12h --grace 30m` for none between trips): it is what `aman trip end` returns to, and it bounds how long a trip may last
member-trip-passed = { $time } has already passed
member-trip-too-long = a trip can last at most your schedule's interval ({ $max }); this one would last { $length }. Extend it later with `aman trip extend`, or set a longer schedule
member-trip-grace-too-long = --grace { $grace } is longer than your schedule's ({ $schedule }); the server would refuse it
member-trip-started = Trip started: back by { $time } (in { $left }).
member-trip-extended = Trip extended: back by { $time } (in { $left }).
member-trip-ended = Trip ended.
member-trip-ended-back = Trip ended. back to your regular schedule.
member-no-trip = no trip under way (`aman trip start --back-by 18:00` starts one)

## Reminders

member-remind-added = Added { $kind } reminder target { $id }. Set when you are reminded with `aman remind set --before 30m,5m`.
member-remind-secret = Webhook signing secret (shown once; requests carry an HMAC-SHA256 signature with it): { $secret }
member-remind-no-times = No reminder times: set them with `aman remind set --before 30m,5m`.
member-remind-before = Reminded { $before } before each check-in is due and before the grace ends.
member-remind-no-targets = No reminder targets: add one with `aman remind add ntfy URL | webhook URL | email ADDRESS`.
member-remind-removed = Removed reminder target { $id }.
member-remind-off = Reminders off.
member-remind-set = You will be reminded { $before } before each check-in is due and before the grace ends.

## Response plan

member-plan-too-long = the plan is { $bytes } bytes; it can hold at most { $max } (about half as many Arabic letters)
member-plan-removed = Your plan is removed.
member-plan-removed-linked = Your plan is removed: your contacts' next alert or drill carries none.
member-plan-kept = Your plan is kept. No contact is linked yet: it is sealed to your contacts once one is.
member-plan-sealed = { $count ->
    [one] Your plan is sealed to your { $count } contact(s): they read it with every alert and drill (`aman drill` shows them).
   *[other] Your plan is sealed to your { $count } contact(s): they read it with every alert and drill (`aman drill` shows them).
}
member-no-plan = No plan is set. `aman plan template --lang en` (or `ar`) prints a starting point; `aman plan set --file PATH` seals yours to your contacts.

## Drills

member-drill-nobody = no contact is linked: there is nobody to drill. Invite one with `aman contact invite --label NAME`.
member-drill-sent = { $count ->
    [one] Drill sent to your { $count } contact(s): after the server's dispatch delay (under a minute by default) it reaches each one's mailbox and every channel, marked as a drill, with the note and plan they would read in an alert. Ask them to acknowledge it; `aman drill status` shows how it went.
   *[other] Drill sent to your { $count } contact(s): after the server's dispatch delay (under a minute by default) it reaches each one's mailbox and every channel, marked as a drill, with the note and plan they would read in an alert. Ask them to acknowledge it; `aman drill status` shows how it went.
}
member-drill-open-until = Your latest drill is still open (until { $time }): one drill at a time, so that drills cannot be used to flood your contacts. `aman drill status` shows how it is going; send the next one after that.
member-drill-open-a-day = Your latest drill is still open (until a day after it reaches your contacts): one drill at a time, so that drills cannot be used to flood your contacts. `aman drill status` shows how it is going; send the next one after that.
member-drill-delivered = delivered
member-drill-failed = failed
member-drill-not-tried = not tried yet
member-no-drill = No drill yet: `aman drill` sends one to every contact.
member-drill-sent-at = Drill { $drill } sent { $time }.
member-drill-not-told = Your contacts have not been told yet: the server waits a random dispatch delay first (now { $now }).
member-drill-window-closed = Its window closed { $time }: this is how it stood then; nothing after it is shown.
member-drill-window-open = Its window is open until { $time }: what your contacts do until then is shown, nothing after it.
member-drill-unlinked-contact = a contact no longer linked
member-drill-in-mailbox = in their mailbox
member-drill-not-in-mailbox = not in their mailbox yet
member-drill-acknowledged = acknowledged { $time }
member-drill-not-acknowledged = NOT acknowledged
member-drill-no-channel = no channel (nothing wakes them: they see it only when they run `aman alerts`)
member-drill-fetched = their client fetched it on { $day }
member-drill-not-fetched = their client did not fetch it in its window

## Device settings (`aman config`)

member-config-needs-both = changing how this device reaches the server needs both passphrases, the normal and the duress one, in any order
member-config-proxy-socks5 = Proxy: { $proxy } (every request goes through it, but server names are looked up by this device: use socks5h:// for Tor)
member-config-proxy = Proxy: { $proxy } (every request goes through it; none is made without it)
member-config-no-proxy = Proxy: none (requests go directly to the server)
member-config-private-ca = Certificate authority: a private one is trusted besides the public ones
member-config-public-ca = Certificate authority: the public ones only
member-config-override = (--proxy or AMAN_PROXY on one command overrides the stored proxy for that command.)

## Times

member-not-a-zone = `{ $zone }` is not a time zone name (write it like Asia/Baghdad or UTC)
member-at-not-a-time = --at: `{ $time }` is not a time of day (write times like 09:00,21:00)
member-at-empty = --at: give at least one time of day, like 09:00
member-clock-impossible = the clock reads an impossible time: { $error }
member-date-out-of-range = a date out of range: { $error }
member-no-checkin-time = no check-in time in the next days
member-not-a-back-by = `{ $text }` is not a time: write it like 18:00 (the next 18:00 where you are), 2h30m, or 2026-11-28T18:00:00+03:00

## Passphrases and typed text

member-noun-passphrase = passphrase
member-noun-duress-passphrase = duress passphrase
member-passphrase-too-easy = the { $which } is too easy to guess
member-passphrase-advice = Several unrelated words, in any language, make a strong one
member-duress-too-close = the duress passphrase is too close to the normal one: a typo could then send a silent alert. Choose one that differs in more than a few letters.
member-reading-passphrase-stdin = reading a passphrase from stdin
member-reading-passphrase = reading a passphrase (use --passphrase-stdin when scripting)
member-empty-passphrase = empty passphrase
member-passphrase-again = Type the { $which } again:
member-passphrases-differ = the two { $which }s you typed differ: nothing was changed
member-prompt-new-passphrase = New passphrase:
member-prompt-duress = Duress passphrase (a different one: checking in with it looks normal but silently alerts your contacts):
member-prompt-new-keystore-passphrase = New passphrase for this keystore:
member-prompt-keystore-duress = Duress passphrase (opens this keystore too, for a captor to see):
member-noun-note = note
member-noun-location = location
member-noun-plan = plan
member-noun-ca-file = CA file
member-reading-path = reading { $path }
member-reading-the = reading the { $what }
member-type-text = Type the { $what }; end it with an empty line:
member-text-too-long = the { $what } is { $bytes } bytes; it can hold at most { $max }
member-text-longer-than = the { $what } is longer than { $max } bytes
member-text-not-utf8 = the { $what } is not UTF-8 text
member-stdin-once = only one of --note-file and --location-file can be `-` (stdin)
member-nothing-typed = Nothing typed: the { $what } stays as it was.

## Several servers (`aman server`)
member-server-not-reached = Not reached: { $server } ({ $reason }). It did not take this; the others did.
member-server-refused = Refused by { $server }: { $reason }. It did not take this; the others did.
member-server-down-long = Warning: { $server } has not answered since { $since }. If it is gone, add another server (`aman server add URL --invite CODE`).
member-server-add-both = type your normal passphrase first, then your duress passphrase (two different passphrases)
member-server-too-many = at most { $max } servers
member-server-add-rotating = new check-in keys are waiting out their cooling-off (`aman key rotate`): add the server once they apply
member-server-known = { $server } is already one of your servers
member-server-added = Registered with { $server } too. Your contacts are told of it (sealed to them: no server learns your other servers).
member-server-added-no-schedule = No schedule yet: `aman schedule set` sets it on every server.
member-server-row-deadline = { $server }: reachable; contacts are alerted there at { $deadline }.
member-server-row-unarmed = { $server }: reachable; no deadline armed there.
member-server-row-down = { $server }: NOT reachable ({ $reason }).
member-server-row-removing = Being removed: it stops at { $time }.
member-server-remove-first = the first server (the one `init` registered with) cannot be removed; add the others first, and make a new account if it is gone for good
member-server-unknown = { $server } is not one of your servers (`aman server list`)
member-server-removing = { $server } deletes your account at { $time } (its cooling-off; your contacts there are told). It keeps getting your check-ins until then.
member-rotate-mirrors = key rotation with several servers is not supported yet: remove the other servers first (`aman server remove URL`)
member-server-mailbox-taken = { $server } does not alert { $label }: their mailbox id is taken there by someone else. Ask them to pair again (`aman contact invite`).
