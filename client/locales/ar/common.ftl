# رسائل تشترك فيها أوامر العضو وأوامر جهة الاتصال.

common-contacts-count = { $count ->
    [zero] لا جهات اتصال
    [one] جهة اتصال واحدة
    [two] جهتا اتصال
    [few] { $count } جهات اتصال
    [many] { $count } جهة اتصال
   *[other] { $count } جهة اتصال
}

## الأخطاء (`خطأ: …` على الطرفية، والرسالة بجانب الرمز في `--json`).

common-error-line = خطأ: { $message }
common-error-unreachable = لا يمكن الوصول إلى خادم Aman على { $url }: { $reason }
common-error-server = رفض الخادم: { $message } ({ $code }، HTTP { $status })
common-error-wrong-passphrase = عبارة المرور خاطئة
common-error-keystore = مخزن المفاتيح: { $detail }
common-unreachable-cannot-reach = لا يمكن الوصول إلى خادم Aman على { $url } ({ $reason }).
common-unreachable-not-protected = أنت غير محميّ إلى أن يتم الوصول إلى الخادم: لم يكتمل الطلب. تحقّق من اتصالك (أو من Tor) وحاول مجددًا.

## سبب تعذّر الوصول إلى خادم.

common-reason-timed-out = انتهت المهلة
common-reason-certificate = شهادته غير موثوقة ({ $cause })؛ لخادم بسلطة شهادات خاصة، أضف --ca-file عند `aman init` أو استخدم `aman config set-ca`
common-reason-proxy-failed = فشل الاتصال عبر الوكيل { $proxy }: هل الوكيل (Tor) يعمل، وهل عنوانه صحيح؟ لم يُرسل شيء من دونه
common-reason-connection-failed = فشل الاتصال
common-reason-health-check = أجاب فحص الحالة بـ { $status }

## عناوين الخوادم، والوكلاء، والشهادات.

common-server-no-scheme = عنوان الخادم `{ $address }` بلا بادئة: اكتبه هكذا https://{ $address } (أو http://… لعنوان .onion)
common-server-url-invalid = عنوان الخادم { $address }: { $error }
common-server-url-bad-scheme = عنوان الخادم { $address }: `{ $scheme }` ليس http ولا https
common-onion-needs-tor = { $host } عنوان Tor: أضف --proxy socks5h://127.0.0.1:9050 (مع تشغيل Tor) للوصول إليه
common-plain-http-refused = أرفض اتصال http:// غير المشفّر بـ { $host }: يستطيع أي أحد على الشبكة قراءة ما يُرسل وتغييره. استخدم عنوان https:// للخادم أو عنوانه .onion (عبر Tor)، أو أضف --insecure-http إن كنت تقبل هذا الخطر
common-proxy-invalid = --proxy { $proxy }: ليس عنوان وكيل؛ لـ Tor اكتب socks5h://127.0.0.1:9050 (تعمل أيضًا وكلاء socks5 وhttp وhttps)
common-http-client-error = عميل http: { $error }
common-no-attempt = لم تجرِ أي محاولة
common-ca-not-pem = ملف سلطة الشهادات ليس شهادات PEM: { $error }
common-ca-empty = ملف سلطة الشهادات لا يحوي أي شهادة (-----BEGIN CERTIFICATE-----)
common-unexpected-reply = ردّ غير متوقع من الخادم: { $error }

## مخزن المفاتيح.

common-duress-must-differ = يجب أن تختلف عبارة مرور الإكراه عن عبارة المرور العادية
common-passphrases-not-a-pair = يجب أن تكون عبارتا المرور عبارتك العادية وعبارة الإكراه
common-keystore-kdf-parameters = معاملات argon2: { $error }
common-keystore-damaged = الملف تالف أو ليس مخزن مفاتيح Aman
common-keystore-bad-parameters = معاملات غير صالحة
common-keystore-state-undecryptable = تعذّر فك تشفير الحالة
common-keystore-short-state = الحالة ناقصة
common-keystore-bad-state-length = طول الحالة غير صالح
common-keystore-damaged-secrets = الأسرار تالفة
common-keystore-state-unreadable = الحالة: { $error }
common-keystore-no-directory = مسار مخزن المفاتيح بلا مجلد
common-keystore-exists = يوجد مخزن مفاتيح بالفعل في { $path }
common-keystore-missing = لا يوجد مخزن مفاتيح في { $path } (شغّل `aman init` أو `aman contact accept` أولًا)
common-account-too-old = أُنشئ هذا الحساب بالإصدار 0.1 من aman، وخادمه يستخدم الآن الإصدار 2 من البروتوكول: أنشئ حسابًا جديدًا بالأمر `aman init` (وستقترن جهات اتصالك من جديد)
common-not-a-member = لا يحوي مخزن المفاتيح هذا حساب عضو (شغّل `aman init`)
common-not-a-contact = مخزن المفاتيح هذا ليس جهة اتصال موثوقة لأحد (شغّل `aman contact accept`)
# ما كان يجري حين تعذّرت قراءة ملف أو كتابته.
common-io-reading = قراءة { $path }
common-io-creating = إنشاء { $path }
common-io-writing = كتابة { $path }

## سطر الأوامر.

# المطالبات: تضيف الشيفرة ": ".
common-prompt-passphrase = عبارة المرور
common-prompt-one-passphrase = إحدى عبارتَي المرور
common-prompt-other-passphrase = عبارة المرور الأخرى
common-not-a-duration = { $flag }: `{ $text }` ليست مدة (مثل 30s أو 10m أو 6h أو 1d)
common-schedule-needs-cadence = أعطِ --every أو --at أو --trips-only
common-keystore-changed = غيّر أمر آخر من أوامر aman مخزن المفاتيح في هذه الأثناء: لم يُحفظ شيء فوقه (حاول مرة أخرى)
common-prompt-normal-existing = عبارة المرور العادية
common-prompt-duress-existing = عبارة مرور الإكراه
