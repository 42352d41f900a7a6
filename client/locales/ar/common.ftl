# رسائل تشترك فيها أوامر العضو وأوامر جهة الاتصال.

common-contacts-count = { $count ->
    [zero] لا جهات اتصال
    [one] جهة اتصال واحدة
    [two] جهتا اتصال
    [few] { $count } جهات اتصال
    [many] { $count } جهة اتصال
   *[other] { $count } جهة اتصال
}
