# Messages shared by the member's and the contact's commands.
# Each file has its twin in ../ar/; a unit test keeps their ids and
# variables the same.

common-contacts-count = { $count ->
    [one] { $count } contact
   *[other] { $count } contacts
}

## Errors (`error: …` on the terminal, and the message beside the code in `--json`).

common-error-line = error: { $message }
common-error-unreachable = cannot reach the Aman server at { $url }: { $reason }
common-error-server = the server refused: { $message } ({ $code }, HTTP { $status })
common-error-wrong-passphrase = wrong passphrase
common-error-keystore = keystore: { $detail }
common-unreachable-cannot-reach = Cannot reach the Aman server at { $url } ({ $reason }).
common-unreachable-not-protected = You are NOT protected until the server is reached: the request did not complete. Check your connection (or Tor) and try again.

## Why a server could not be reached.

common-reason-timed-out = timed out
common-reason-certificate = its certificate is not trusted ({ $cause }); for a server with a private certificate authority, pass --ca-file at `aman init` or use `aman config set-ca`
common-reason-proxy-failed = connection through the proxy { $proxy } failed: is the proxy (Tor) running, and is its address right? Nothing was sent without it
common-reason-connection-failed = connection failed
common-reason-health-check = health check answered { $status }

## Server addresses, proxies, certificates.

common-server-no-scheme = the server address `{ $address }` has no scheme: write it as https://{ $address } (or http://… for a .onion address)
common-server-url-invalid = server URL { $address }: { $error }
common-server-url-bad-scheme = server URL { $address }: `{ $scheme }` is not http or https
common-onion-needs-tor = { $host } is a Tor address: pass --proxy socks5h://127.0.0.1:9050 (with Tor running) to reach it
common-plain-http-refused = refusing plain http:// to { $host }: anyone on the network could read and change what is sent. Use the server's https:// address or its .onion address (through Tor), or pass --insecure-http if you accept that risk
common-proxy-invalid = --proxy { $proxy }: not a proxy URL; for Tor write socks5h://127.0.0.1:9050 (socks5, http and https proxies work too)
common-http-client-error = http client: { $error }
common-no-attempt = no attempt made
common-ca-not-pem = the CA file is not PEM certificates: { $error }
common-ca-empty = the CA file holds no certificate (-----BEGIN CERTIFICATE-----)
common-unexpected-reply = unexpected reply from the server: { $error }

## The keystore.

common-duress-must-differ = the duress passphrase must differ from the normal one
common-passphrases-not-a-pair = the two passphrases must be your normal and your duress passphrase
common-keystore-kdf-parameters = argon2 parameters: { $error }
common-keystore-damaged = the file is damaged or not an Aman keystore
common-keystore-bad-parameters = bad parameters
common-keystore-state-undecryptable = state does not decrypt
common-keystore-short-state = short state
common-keystore-bad-state-length = bad state length
common-keystore-damaged-secrets = damaged secrets
common-keystore-state-unreadable = state: { $error }
common-keystore-no-directory = keystore path has no directory
common-keystore-exists = a keystore already exists at { $path }
common-keystore-missing = no keystore at { $path } (run `aman init` or `aman contact accept` first)
common-account-too-old = this account was made by aman 0.1 and its server now speaks protocol version 2: make a new account with `aman init` (your contacts pair again)
common-not-a-member = this keystore has no member account (run `aman init`)
common-not-a-contact = this keystore is not a trusted contact of anyone (run `aman contact accept`)
# What was being done when a file could not be read or written.
common-io-reading = reading { $path }
common-io-creating = creating { $path }
common-io-writing = writing { $path }

## The command line.

# Prompts: the code adds ": ".
common-prompt-passphrase = Passphrase
common-prompt-one-passphrase = One passphrase
common-prompt-other-passphrase = The other passphrase
common-not-a-duration = { $flag }: `{ $text }` is not a duration (like 30s, 10m, 6h, 1d)
common-schedule-needs-cadence = give --every, --at or --trips-only
common-keystore-changed = another aman command changed the keystore meanwhile: nothing was saved over it (try again)
common-prompt-normal-existing = Your normal passphrase
common-prompt-duress-existing = Your duress passphrase
