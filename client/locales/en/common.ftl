# Messages shared by the member's and the contact's commands.
# Each file has its twin in ../ar/; a unit test keeps their ids and
# variables the same.

common-contacts-count = { $count ->
    [one] { $count } contact
   *[other] { $count } contacts
}
