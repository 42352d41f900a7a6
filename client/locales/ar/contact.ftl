# رسائل جهة الاتصال الموثوقة (`aman contact accept` و`aman alerts`
# و`aman alerts watch` و`aman notify` و`aman verify`).
# لكل ملف توأم في ../en/؛ يتحقق اختبار من تطابق المعرّفات والمتغيرات.
# «تأكيد السلامة» ترجمة check-in في كل الرسائل.

## أسباب الإنذار: عنوان يلي اسم العضو، ثم ما يجب فعله.

contact-reason-missed = لم يؤكّد سلامته قبل موعده النهائي
contact-reason-missed-todo = حاول الوصول إليه الآن. إن لم تستطع، فاتّبع الخطة التي اتفقتما عليها (ملاحظته أدناه تقول أين كان).
contact-reason-duress = أرسل تأكيد سلامة بعبارة مرور الإكراه: قد يكون هناك من يُكرهه الآن
contact-reason-duress-todo = بدا تأكيد سلامته عاديًا لمن كان معه. لا تتصل به ولا تراسله بطريقة قد تكشف هذا الإنذار؛ اتّبع الخطة التي اتفقتما عليها.
contact-reason-panic = ضغط زر الاستغاثة: يطلب المساعدة الآن
contact-reason-panic-todo = تحرّك الآن: اتّبع الخطة التي اتفقتما عليها. ملاحظته أدناه تقول ما يعرفه.
contact-reason-drill = يختبر شبكة الأمان الخاصة به: هذا تمرين فقط، ولم يحدث شيء
contact-reason-drill-todo = أكّد استلامه بالأمر `aman alerts ack ID` لتُظهر أنك كنت ستراه.
contact-reason-unknown = أرسل إنذارًا من نوع لا يعرفه هذا الإصدار
contact-reason-unknown-todo = حدّث aman، وحاول الوصول إليه.

contact-drill-line = تمرين فقط: { $member } يختبر شبكة الأمان الخاصة به — لم يحدث شيء. أكّد استلامه بالأمر `aman alerts ack { $id }` لتُظهر أنك كنت ستراه.
contact-drill-shows = فيما يلي ما كنت ستقرؤه في إنذار حقيقي.

## إشعارات مرفقة بإنذار، وما يجب فعله.

contact-alert-notice-late = أكّد سلامته بعد صدور هذا الإنذار
contact-alert-notice-late-todo = يمكن إجبار أحدٍ على تأكيد سلامته: تحقّق منه بطريقة لا يُجيب عنها سواه.
contact-alert-notice-acked = أكّدت جهة اتصال أخرى استلام هذا الإنذار
contact-alert-notice-acked-todo = نسّق مع جهات الاتصال الأخرى.
contact-alert-notice-unknown = أضاف الخادم ملاحظة من نوع لا يعرفه هذا الإصدار
contact-alert-notice-unknown-todo = حدّث aman.

## إشعارات الحساب (تغيير في حماية العضو): عبارة تلي اسم العضو، وما يجب فعله.

contact-account-notice-weakening = طلب تغييرًا يُضعف حمايته (جدولًا أطول، أو تأكيد السلامة في الرحلات فقط، أو حذف جهة اتصال، أو إيقاف الإنذارات مؤقتًا)
contact-account-notice-weakening-todo = إن لم يُخبرك بذلك، فاسأله وجهًا لوجه: قد يكون هناك من يُكرهه. لا يسري التغيير قبل الوقت المذكور، فلديك وقت للتحرك.
contact-account-notice-rotation = يغيّر المفاتيح التي يؤكّد بها سلامته
contact-account-notice-rotation-todo = إن لم يُخبرك، فاسأله وجهًا لوجه: قد يكون من يحمل هاتفه هو من يفعل ذلك.
contact-account-notice-deletion = طلب حذف حسابه: تتوقف الإنذارات حين يسري ذلك
contact-account-notice-deletion-todo = إن لم يُخبرك، فاسأله وجهًا لوجه قبل ذلك الوقت.
contact-account-notice-linked = ربط جهة اتصال موثوقة جديدة
contact-account-notice-linked-todo = إن لم يُخبرك، فاسأله: قد يكون من يحمل هاتفه يضيف جهة اتصال تابعة له هو.
contact-account-notice-cancelled = ألغى تغييرًا معلّقًا
contact-account-notice-cancelled-todo = لا شيء عليك فعله.
contact-account-notice-unknown = أجرى تغييرًا لا يعرفه هذا الإصدار
contact-account-notice-unknown-todo = حدّث aman، واسأله عنه.

## `aman contact accept`

contact-invalid-invite = هذا ليس رمز دعوة صالحًا: { $error }
contact-label-taken = هناك عضو باسم `{ $label }` بالفعل
contact-accepted = أصبحتَ الآن جهة اتصال موثوقة لـ { $member }.
contact-safety-number-heading = رقم الأمان (قارنه برقمه وجهًا لوجه):
contact-one-passphrase = لمخزن المفاتيح هذا عبارة مرور واحدة. (تهمّ عبارة مرور الإكراه الأعضاءَ، إذ يُنذر تأكيدُ السلامة بها جهاتِ اتصالهم بصمت؛ أما أنت فلن تفعل لك سوى فتح مخزن المفاتيح هذا أيضًا. أنشئ واحدة بالخيار `--duress-passphrase` إن أردت.)
contact-duress-opens-too = عبارة مرور الإكراه تفتح مخزن المفاتيح هذا أيضًا. ولا ترسل شيئًا: بصفتك جهة اتصال، ليس عليك تأكيد سلامة.
contact-nothing-wakes-you = لن ينبّهك شيء عند وصول إنذار: أضف قناة (`aman notify add ntfy URL` أو `webhook URL` أو `email ADDRESS`)، أو أبقِ `aman alerts watch` قيد التشغيل.
contact-channel-covers = قناتك { $kind } ({ $target }) تشمل الآن { $member } أيضًا.
contact-channel-failed = تحذير: تعذّرت إضافة قناتك { $kind } ({ $target }) لـ { $member } ({ $error }): لن تنبّهك بشأنه.
contact-webhook-secret = سرّ توقيع webhook الخاص بـ { $member } (يُعرض مرة واحدة؛ تحمل الطلبات توقيع HMAC-SHA256 به): { $secret }

## تحذيرات بشأن إنذار واحد (بالإنجليزية في `--json`).

contact-warning-no-note = لم يترك العضو ملاحظة مختومة
contact-warning-other-account = الملاحظة المختومة تخصّ حسابًا آخر: لا تثق بها
contact-warning-older-than-earlier = هذه الملاحظة أقدم من ملاحظة إنذار سابق: قد يكون الخادم يعرض ملاحظة قديمة
contact-warning-stale-note = كُتبت هذه الملاحظة { $written } وهي أقدم من آخر تأكيد سلامة للعضو ({ $checkin })، الذي كان يشهد لملاحظة أخرى
contact-warning-forged = الملاحظة غير موقّعة من العضو: قد تكون مزوّرة
contact-warning-undecryptable = تعذّر فك تشفير الملاحظة بمفتاحك
contact-warning-fired-early = يقول الخادم إن هذا الإنذار صدر قبل الموعد النهائي الذي صدر بسببه: لا تثق بأوقاته

## سبب تجاهل إشارة حياة نقلها الخادم (بالإنجليزية في `--json`).

contact-heartbeat-not-signed = غير موقّعة من العضو
contact-heartbeat-other-account = تخصّ حسابًا آخر
contact-heartbeat-other-server = صُنعت لخادم آخر
contact-heartbeat-not-newer = ليست أحدث من التي وصلت من قبل
contact-heartbeat-counter-leap = عدّادها يقفز إلى الأمام أكثر من اللازم
contact-heartbeat-future = موقّعة بتاريخ في المستقبل
contact-heartbeat-bad-schedule = تعلن جدولًا لا يقبله أي خادم
contact-heartbeat-ignored = ملاحظة: جرى تجاهل إشارة حياة نقلها الخادم عن { $member } ({ $why }).

## `aman alerts`: إنذار واحد، إشعار واحد.

contact-no-alerts = لا توجد إنذارات.
contact-alert-line = إنذار: { $member } { $what } (الإنذار { $id }، { $fired }).
contact-drill-ref = (التمرين { $id }، { $fired }).
contact-server-was-down = كان الخادم متوقفًا قبل هذا الموعد النهائي.
contact-what-to-do = ماذا تفعل: { $todo }
contact-note-empty = (فارغة)
contact-note = الملاحظة: { $note }
contact-note-written = الملاحظة (كُتبت { $written }): { $note }
contact-location = الموقع: { $location }
contact-location-written = الموقع (كُتب { $written }): { $location }
contact-their-plan = خطته:
contact-their-plan-then = خطته حينها:
contact-earlier-note-written = ملاحظة سابقة (كُتبت { $written }): { $note }
contact-earlier-note-sealed = ملاحظة سابقة (وصلت { $received }): مختومة بحيث لا يمكنك فتحها
# $check فارغ، أو مسافة ثم contact-notice-verified أو -unverified.
contact-alert-notice-line = { $what } في { $at }{ $check }. { $todo }
contact-notice-verified = (موثّق: وقّع جهاز العضو تأكيد سلامة بعد الإنذار)
contact-notice-unverified = (غير موثّق: لا يوجد تأكيد سلامة موقّع من جهاز العضو منذ الإنذار؛ هذه كلمة الخادم وحده)
contact-acked-by-you = أكّدتَ أنت الاستلام في { $at }
contact-acked-by = أكّد { $by } الاستلام في { $at }، بحسب الخادم: تحقّق معه قبل أن تتوقف عن التحرك
contact-another-contact = جهة اتصال أخرى
contact-alert-warning = تحذير: { $warning }
contact-notice-line = إشعار: { $member } { $what } ({ $at }).
contact-notice-receives-from = تصله الإنذارات ابتداءً من { $at }.
contact-notice-applies-at = يسري ذلك في { $at }.
contact-notice-safety-number = رقم الأمان لجهة الاتصال الجديدة يبدأ بـ { $prefix }.

## فات موعد نهائي دون إنذار يُثبت ذلك.

contact-unconfirmed = تحذير: لم تصل أي إشارة حياة من { $member } منذ { $since }؛ { $deadline }، و{ $server }. حاول الوصول إلى { $member } الآن، واتّبع خطتك إن لم تستطع.
contact-unconfirmed-deadline = كان موعده النهائي { $at }
contact-unconfirmed-stood-down = قال إنه لا يلزمه تأكيد سلامة (بين الرحلات)، لكن ذلك لا يضمن سلامته إلا حتى { $at }
contact-unconfirmed-not-confirmed = لم يؤكّد الخادم صدور أي إنذار
contact-unconfirmed-cannot-confirm = تعذّر على الخادم تأكيد صدور أي إنذار (لا يمكن الوصول إليه، أو رفض الإجابة)

## `aman alerts watch`

contact-watch-start = أراقب الإنذارات والإشعارات { $count ->
    [zero] دون أي عضو
    [one] لعضو واحد
    [two] لعضوين
    [few] لـ { $count } أعضاء
    [many] لـ { $count } عضوًا
   *[other] لـ { $count } عضو
}. أبقِ هذا قيد التشغيل.
contact-watch-unreachable = لا يمكن الوصول إلى خادم { $member } ({ $error }). المراقبة مستمرة: سأحاول مجددًا، وسأنبّهك إن فات موعده النهائي.
contact-watch-back = عاد خادم { $member } يُجيب.
contact-watch-still = ما زلت أراقب { $count ->
    [zero] دون أي عضو
    [one] عضوًا واحدًا
    [two] عضوين
    [few] { $count } أعضاء
    [many] { $count } عضوًا
   *[other] { $count } عضو
}؛ آخر فحص: { $when }.
contact-watch-never = لم يحدث بعد
contact-watch-down = { $count ->
    [one] تعذّر الوصول الآن إلى خادم واحد.
    [two] تعذّر الوصول الآن إلى خادمين.
    [few] تعذّر الوصول الآن إلى { $count } خوادم.
    [many] تعذّر الوصول الآن إلى { $count } خادمًا.
   *[other] تعذّر الوصول الآن إلى { $count } خادم.
}

## `aman alerts ack`

contact-prefix-too-short = أعطِ أول 4 أحرف من معرّف الإنذار على الأقل
contact-prefix-none = لا يوجد معرّف إنذار يبدأ بـ `{ $prefix }` (الأمر `aman alerts --all` يعرضها)
contact-prefix-ambiguous = `{ $prefix }` بداية { $count ->
    [two] معرّفَي إنذارين
    [few] { $count } معرّفات إنذارات
    [many] { $count } معرّفًا للإنذارات
   *[other] { $count } معرّف إنذار
} ({ $ids }): أعطِ جزءًا أطول منه
contact-acked = تم تأكيد الاستلام. يتوقف التصعيد، ويُبلَّغ باقي جهات اتصال { $member }.
contact-no-such-alert = لا يوجد الإنذار { $id } في صناديق بريدك

## `aman notify`

contact-notify-added = أُضيفت قناة الإشعار { $kind } رقم { $id }. لا تقول الإشعارات إلا إن شيئًا ما ينتظرك (إنذار، أو خبر عن عضو): شغّل `aman alerts`.
contact-notify-none = لا توجد قنوات إشعار. أضف واحدة بالأمر `aman notify add webhook URL | ntfy URL | email ADDRESS`.
contact-notify-covers-all = تنبّهك بشأن { $count ->
    [zero] جميع الأعضاء (لا أحد بعد)
    [one] العضو الوحيد
    [two] العضوين كليهما
   *[other] جميع الأعضاء ({ $count })
}
contact-notify-covers-some = تنبّهك بشأن { $covered } من { $count ->
    [one] عضو واحد
    [two] عضوين
    [few] { $count } أعضاء
    [many] { $count } عضوًا
   *[other] { $count } عضو
}
contact-no-such-channel = لا توجد قناة إشعار رقم { $id }
contact-notify-removed = أُزيلت قناة الإشعار رقم { $id }.

## `aman verify`

contact-verify-your-contact = جهة اتصالك { $label }: { $number }
contact-verify-member = العضو { $label }: { $number }
contact-verify-none = لا توجد مفاتيح مقترنة بعد.
contact-server-down-fresh = تعذّر الوصول إلى خادم { $member }‏ { $server }؛ وصلت أحدث نبضة من العضو (موقّعة في { $at }) عبر خادم آخر من خوادمه.
contact-server-down = تعذّر الوصول إلى خادم { $member }‏ { $server }؛ قُرئت الخوادم الأخرى.
contact-alert-servers = أطلقه: { $servers }
contact-server-listed = يستخدم { $member } الآن الخادم { $server } أيضًا (كما تقول قائمة خوادمه المختومة). يقرؤه هذا الجهاز ابتداءً من { $from }: حتى يُلاحَظ أي خادم أُضيف رغمًا عن العضو أولًا.
