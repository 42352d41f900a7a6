# member messages
# ما تقوله أوامر العضو: الحساب، وجهات الاتصال، والجدول، وتأكيد السلامة،
# والرحلات، والاستغاثة، والحالة، والتذكيرات، والخطة، والتمارين، والإعدادات،
# وعبارات المرور. لكل ملف توأمه في ../en/؛ واختبار وحدة يُبقي المعرّفات
# والمتغيرات نفسها. التنسيق (الأسطر والمسافات) يبقى في الشيفرة.
# الأوامر والخيارات والمعرّفات تبقى بالحروف اللاتينية.

## الحساب

member-old-account = أُنشئ هذا الحساب بالإصدار aman 0.1، وخادمه يتكلم الآن الإصدار 2 من البروتوكول: أنشئ حسابًا جديدًا بالأمر `aman init`
member-no-account = لا يحوي مخزن المفاتيح هذا حساب عضو (شغّل `aman init`)
member-init-created = أُنشئ الحساب على { $server }.
member-init-no-contact = لم تُربط أي جهة اتصال بعد: لن يُنبَّه أحد حتى تُربط واحدة.
member-init-next = الخطوة التالية: `aman contact invite --label NAME` لكل جهة اتصال موثوقة، ثم `aman schedule set --every 6h --grace 30m`.
member-server-id-mismatch = معرّف الخادم لا يطابق مفتاحه: هناك خلل ما، فلا تسجّل هنا
member-invite-damaged = رمز الدعوة تالف: اطلبه من المنظِّم مرة أخرى
member-wrong-server = هذا ليس الخادم الذي صُنعت الدعوة له: ربما يقف أحد بينك وبينه. لا تتابع، وأخبر المنظِّم.

## جهات الاتصال

member-tier-range = قيمة --tier من 1 إلى 9
member-label-taken = هناك جهة اتصال باسم `{ $label }` من قبل
member-invite-give = أعطِ هذا الرمز لـ { $label } وجهًا لوجه أو عبر قناة تثق بها (صالح 7 أيام):
member-invite-linked-once = تُربط جهة الاتصال { $label } وتصلها الإنذارات بعد أن تقبل الدعوة وتستخدم أنت aman في المرة التالية. جهات اتصالك ترى الأسماء التي تعطيها لكل منها (بها يُعرف من أكّد استلام الإنذار).
member-bad-invite-secret = سرّ الدعوة المحفوظ تالف
member-contact-linked = قبلت جهة الاتصال { $label } دعوتك وأصبحت مرتبطة (قارن أرقام الأمان: `aman verify`).
member-invite-forged = ردّ على الدعوة الموجهة إلى { $label } شخص لا يملكها: أُلغيت الدعوة. ادعُ { $label } مرة أخرى.
member-no-contact-warning = تحذير: لا توجد جهة اتصال مرتبطة: لن يُنبَّه أحد. ادعُ واحدة بالأمر `aman contact invite --label NAME`؛ تُربط جهة الاتصال المدعوة حين تقبل الدعوة.
member-invited-not-accepted = { $count ->
    [zero] (لا دعوات بانتظار القبول)
    [one] (دعوة واحدة لم تُقبل بعد)
    [two] (دعوتان لم تُقبلا بعد)
    [few] ({ $count } دعوات لم تُقبل بعد)
    [many] ({ $count } دعوة لم تُقبل بعد)
   *[other] ({ $count } دعوة لم تُقبل بعد)
}
member-contact-state-linked = مرتبطة
member-contact-linked-until = مرتبطة حتى { $time }
member-contact-tier = المستوى { $tier }
member-contact-safety-number = رقم الأمان { $number }
member-contact-invited-waiting = مدعوّة، بانتظار قبولها
member-contact-list-forged = ردّ على الدعوة شخص لا يملكها (ليس { $label }): أُلغيت. ادعُ { $label } مرة أخرى، ولا تُعطِ الرمز الجديد إلا إليها.
member-no-contacts = لا جهات اتصال بعد. الأمر `aman contact invite --label NAME` يصنع رمز دعوة.
member-no-such-contact = لا توجد جهة اتصال باسم `{ $label }`
member-contact-removed-at = ستُزال جهة الاتصال { $label } في { $time }. حتى ذلك الحين تظل تتلقى الإنذارات، وقد أُبلغت كل جهات الاتصال.
member-removal-dropped = إزالة { $labels } كانت تنتظر معه فأُلغيت أيضًا: شغّل `aman contact remove` مرة أخرى إن كنت لا تزال تريدها.

## الجدول

member-schedule = الجدول: { $schedule }.
member-schedule-applies-now = يسري الآن.
member-schedule-applies-at = يسري في { $time } (لأنه يُضعف حمايتك فهو ينتظر؛ وقد أُبلغت جهات اتصالك). حتى ذلك الحين يبقى الجدول القديم ساريًا.
member-schedule-next-due = موعد تأكيد السلامة التالي قبل { $due }؛ والإنذار في { $deadline }.
member-schedule-check-in-yourself = أكّد سلامتك بالأمر `aman checkin`: لا شيء يؤكدها عنك.
member-schedule-at = تأكيد السلامة في { $times } ({ $tz })، والإنذار بعد { $grace } إضافية
member-schedule-every = تأكيد السلامة كل { $every }، والإنذار بعد { $grace } إضافية
member-schedule-trips-only = في الرحلات فقط: لا تأكيد سلامة مطلوب بين الرحلات، وتدوم الرحلة { $max } على الأكثر، والإنذار بعد { $grace } من موعد العودة
member-no-schedule = لم يُضبط جدول: `aman schedule set --every 6h --grace 30m` (أو `--at 09:00,21:00`).
member-schedule-trip-hint = الأمر `aman trip start --back-by 18:00` يبدأ رحلة؛ و`aman trip end` حين تعود.
member-schedule-next-dues = إن أكّدت سلامتك الآن (أو في الوقت المعطى)، فمواعيد تأكيد السلامة التالية قبل:
member-schedule-on-trip = في رحلة: العودة قبل { $time } (الأمر `aman trip end` يعيدك إلى هذا الجدول).
member-pause-until-time = إيقاف مؤقت حتى { $time } (يحين موعدك حينها، مضافًا إليه فترة السماح): لا إنذار عند فوات تأكيد السلامة.
member-pause-until-resume = إيقاف مؤقت حتى تشغّل `aman schedule resume`: لا إنذار عند فوات تأكيد السلامة.
member-pause-applies-now = يسري الآن؛ وحتى ذلك الحين يبقى جدولك ساريًا.
member-pause-applies-at = يسري في { $time } (لأنه يُضعف حمايتك فهو ينتظر؛ وقد أُبلغت جهات اتصالك)؛ وحتى ذلك الحين يبقى جدولك ساريًا.
member-resume-over = انتهى الإيقاف المؤقت: عاد جدولك.
member-resume-schedule-dropped = وأُلغي معه تغيير الجدول الذي كان ينتظر.

## تأكيد السلامة

member-no-schedule-yet = لا جدول بعد: شغّل أولًا `aman schedule set --every 6h --grace 30m`
member-counter-far = يذكر الخادم عدّاد تأكيد السلامة { $server }، وهو أبعد بكثير من عدّاد هذا الجهاز { $device }: لن يُتَّبع
member-counter-refused = ظل الخادم يرفض عدّاد تأكيد السلامة
member-counter-mismatch = ردّ الخادم على عدّاد تأكيد السلامة { $got } بدلًا من { $sent }
member-checked-in = تم تأكيد سلامتك. موعد التأكيد التالي قبل { $due }؛ { $who ->
    [linked] تُنبَّه جهات اتصالك
   *[none] يُرسَل الإنذار
} في { $deadline } إن لم تؤكد سلامتك.
member-checked-in-every = تم تأكيد سلامتك. موعد التأكيد التالي قبل { $due } (بعد { $every })؛ { $who ->
    [linked] تُنبَّه جهات اتصالك
   *[none] يُرسَل الإنذار
} في { $deadline } إن لم تؤكد سلامتك.
member-checked-in-trips-only = تم تأكيد سلامتك. لا تأكيد سلامة مطلوب حتى رحلتك التالية (`aman trip start --back-by 18:00`).
member-on-trip-back-by = في رحلة: العودة قبل { $time }.
member-trip-hint = الأمر `aman trip extend 30m` يمنحك وقتًا إضافيًا؛ و`aman trip end` حين تعود.
member-checkin-trip-ended = كان موعد عودتك من الرحلة قد فات: تأكيد السلامة هذا يُنهيها.

## المفاتيح والاستغاثة

member-rotate-both = اكتب عبارتي المرور كلتيهما: العادية وعبارة الإكراه، بأي ترتيب
member-rotate-done = تحل مفاتيح تأكيد السلامة الجديدة محل القديمة في { $time } (بعد فترة التريّث لدى الخادم؛ وقد أُبلغت جهات اتصالك). تبقى عبارتا المرور كما هما.
member-panic-sent = أُرسل إنذار الاستغاثة { $alert } إلى جهات اتصالك.

## الحالة

member-status-reachable = الخادم { $server } متاح.
member-status-reachable-proxy = الخادم { $server } متاح عبر الوسيط { $proxy }.
member-status-next-due = موعد تأكيد السلامة التالي قبل { $due }؛ والإنذار في { $deadline } (بقي { $left }).
member-status-trips-only = لا تأكيد سلامة مطلوب: في الرحلات فقط، ولا رحلة جارية (`aman trip start --back-by 18:00`).
member-status-not-armed = غير مفعّل: أكّد سلامتك لتفعيله.
member-status-paused = متوقف مؤقتًا: لا إنذار عند فوات تأكيد السلامة (الأمر `aman schedule resume` يُنهي الإيقاف).
member-status-paused-until = متوقف مؤقتًا حتى { $until }: لا إنذار عند فوات تأكيد السلامة (الأمر `aman schedule resume` يُنهي الإيقاف).
member-status-paused-from = متوقف مؤقتًا ابتداءً من { $from }: لا إنذار عند فوات تأكيد السلامة (الأمر `aman schedule resume` يُنهي الإيقاف).
member-status-paused-from-until = متوقف مؤقتًا من { $from } حتى { $until }: لا إنذار عند فوات تأكيد السلامة (الأمر `aman schedule resume` يُنهي الإيقاف).
member-status-on-trip = في رحلة: العودة قبل { $time } (بقي { $left })؛ و`aman trip end` حين تعود.
member-status-contacts = { $linked ->
    [zero] لا جهات اتصال مرتبطة
    [one] جهة اتصال واحدة مرتبطة
    [two] جهتا اتصال مرتبطتان
    [few] { $linked } جهات اتصال مرتبطة
    [many] { $linked } جهة اتصال مرتبطة
   *[other] { $linked } جهة اتصال مرتبطة
}، { $invited ->
    [zero] ولا دعوات معلّقة
    [one] ودعوة واحدة معلّقة
    [two] ودعوتان معلّقتان
    [few] و{ $invited } دعوات معلّقة
    [many] و{ $invited } دعوة معلّقة
   *[other] و{ $invited } دعوة معلّقة
}.
member-pending-weakening = تغيير يُضعف حمايتك
member-pending-keys = مفاتيح تأكيد سلامة جديدة
member-pending-deletion = حذف هذا الحساب
member-pending-unknown = تغيير لا يعرفه هذا الإصدار من aman
member-pending-applies-at = { $what }: يسري في { $time }.
member-pending-waiting = { $what }: بانتظار موعده.
member-status-unreachable = تعذّر الوصول إلى الخادم { $server }.
member-status-last-known = آخر ما عُرف (كما قال الخادم في { $at }): موعد تأكيد السلامة التالي قبل { $due }؛ والإنذار في { $deadline }.
member-status-last-known-passed = آخر ما عُرف (كما قال الخادم في { $at }): موعد تأكيد السلامة التالي قبل { $due }؛ والإنذار في { $deadline }، وقد فات هذا الموعد.
member-status-last-known-not-armed = آخر ما عُرف: غير مفعّل.
member-status-nothing-known = لا يُعرف بعد شيء عن الموعد النهائي لدى الخادم.

## الرحلات

member-trip-no-schedule = اضبط جدولًا أولًا (`aman schedule set --every 6h --grace 30m`، أو `--trips-only --max-trip 12h --grace 30m` لعدم اشتراط شيء بين الرحلات): إليه يعيدك `aman trip end`، وهو يحدّ مدة الرحلة
member-trip-passed = الوقت { $time } قد مضى
member-trip-too-long = لا تتجاوز الرحلة فاصل جدولك ({ $max })؛ وهذه ستدوم { $length }. مدّدها لاحقًا بالأمر `aman trip extend`، أو اضبط جدولًا أطول
member-trip-grace-too-long = --grace { $grace } أطول من فترة السماح في جدولك ({ $schedule })؛ وسيرفضها الخادم
member-trip-started = بدأت الرحلة: العودة قبل { $time } (بعد { $left }).
member-trip-extended = مُدّدت الرحلة: العودة قبل { $time } (بعد { $left }).
member-trip-ended = انتهت الرحلة.
member-trip-ended-back = انتهت الرحلة، وعدت إلى جدولك المعتاد.
member-no-trip = لا رحلة جارية (الأمر `aman trip start --back-by 18:00` يبدأ واحدة)

## التذكيرات

member-remind-added = أُضيفت وجهة تذكير من نوع { $kind } برقم { $id }. حدّد متى تُذكَّر بالأمر `aman remind set --before 30m,5m`.
member-remind-secret = سرّ توقيع الـ webhook (يُعرض مرة واحدة؛ تحمل الطلبات توقيع HMAC-SHA256 به): { $secret }
member-remind-no-times = لا أوقات تذكير: اضبطها بالأمر `aman remind set --before 30m,5m`.
member-remind-before = تُذكَّر قبل { $before } من كل موعد لتأكيد السلامة وقبل انتهاء فترة السماح.
member-remind-no-targets = لا وجهات تذكير: أضف واحدة بالأمر `aman remind add ntfy URL | webhook URL | email ADDRESS`.
member-remind-removed = أُزيلت وجهة التذكير { $id }.
member-remind-off = التذكيرات متوقفة.
member-remind-set = ستُذكَّر قبل { $before } من كل موعد لتأكيد السلامة وقبل انتهاء فترة السماح.

## خطة الاستجابة

member-plan-too-long = حجم الخطة { $bytes } بايت؛ والحد الأقصى { $max } (أي نحو نصف هذا العدد من الحروف العربية)
member-plan-removed = أُزيلت خطتك.
member-plan-removed-linked = أُزيلت خطتك: لن يحمل الإنذار أو التمرين التالي لجهات اتصالك أي خطة.
member-plan-kept = حُفظت خطتك. لا توجد جهة اتصال مرتبطة بعد: ستُختم الخطة لجهات اتصالك حين تُربط واحدة.
member-plan-sealed = { $count ->
    [zero] لم تُختم خطتك لأي جهة اتصال.
    [one] خُتمت خطتك لجهة اتصالك الوحيدة: ستقرؤها مع كل إنذار وتمرين (الأمر `aman drill` يعرضها عليها).
    [two] خُتمت خطتك لجهتي اتصالك: ستقرآنها مع كل إنذار وتمرين (الأمر `aman drill` يعرضها عليهما).
    [few] خُتمت خطتك لجهات اتصالك الـ{ $count }: سيقرؤونها مع كل إنذار وتمرين (الأمر `aman drill` يعرضها عليهم).
    [many] خُتمت خطتك لجهات اتصالك الـ{ $count }: سيقرؤونها مع كل إنذار وتمرين (الأمر `aman drill` يعرضها عليهم).
   *[other] خُتمت خطتك لجهات اتصالك الـ{ $count }: سيقرؤونها مع كل إنذار وتمرين (الأمر `aman drill` يعرضها عليهم).
}
member-no-plan = لم تُضبط خطة. الأمر `aman plan template --lang ar` (أو `en`) يطبع نقطة انطلاق؛ و`aman plan set --file PATH` يختم خطتك لجهات اتصالك.

## التمارين

member-drill-nobody = لا توجد جهة اتصال مرتبطة: لا أحد تُجري معه التمرين. ادعُ واحدة بالأمر `aman contact invite --label NAME`.
member-drill-sent = { $count ->
    [zero] أُرسل التمرين، لكن لا جهة اتصال مرتبطة لتصلها.
    [one] أُرسل التمرين إلى جهة اتصالك الوحيدة: بعد مهلة الإرسال لدى الخادم (أقل من دقيقة افتراضيًا) يصل إلى صندوق بريدها وإلى كل قنواتها، موسومًا بأنه تمرين، مع الملاحظة والخطة التي ستقرؤها في الإنذار. اطلب منها تأكيد استلامه؛ والأمر `aman drill status` يعرض كيف جرى.
    [two] أُرسل التمرين إلى جهتي اتصالك: بعد مهلة الإرسال لدى الخادم (أقل من دقيقة افتراضيًا) يصل إلى صندوق بريد كل منهما وإلى كل قنواتها، موسومًا بأنه تمرين، مع الملاحظة والخطة اللتين ستقرآنهما في الإنذار. اطلب منهما تأكيد استلامه؛ والأمر `aman drill status` يعرض كيف جرى.
    [few] أُرسل التمرين إلى جهات اتصالك الـ{ $count }: بعد مهلة الإرسال لدى الخادم (أقل من دقيقة افتراضيًا) يصل إلى صندوق بريد كل منها وإلى كل قنواتها، موسومًا بأنه تمرين، مع الملاحظة والخطة اللتين سيقرؤونهما في الإنذار. اطلب منهم تأكيد استلامه؛ والأمر `aman drill status` يعرض كيف جرى.
    [many] أُرسل التمرين إلى جهات اتصالك الـ{ $count }: بعد مهلة الإرسال لدى الخادم (أقل من دقيقة افتراضيًا) يصل إلى صندوق بريد كل منها وإلى كل قنواتها، موسومًا بأنه تمرين، مع الملاحظة والخطة اللتين سيقرؤونهما في الإنذار. اطلب منهم تأكيد استلامه؛ والأمر `aman drill status` يعرض كيف جرى.
   *[other] أُرسل التمرين إلى جهات اتصالك الـ{ $count }: بعد مهلة الإرسال لدى الخادم (أقل من دقيقة افتراضيًا) يصل إلى صندوق بريد كل منها وإلى كل قنواتها، موسومًا بأنه تمرين، مع الملاحظة والخطة اللتين سيقرؤونهما في الإنذار. اطلب منهم تأكيد استلامه؛ والأمر `aman drill status` يعرض كيف جرى.
}
member-drill-open-until = ما زال تمرينك الأخير مفتوحًا (حتى { $time }): تمرين واحد في كل مرة، كي لا تُستخدم التمارين لإغراق جهات اتصالك. الأمر `aman drill status` يعرض كيف يجري؛ أرسل التمرين التالي بعد ذلك.
member-drill-open-a-day = ما زال تمرينك الأخير مفتوحًا (حتى يمضي يوم على وصوله إلى جهات اتصالك): تمرين واحد في كل مرة، كي لا تُستخدم التمارين لإغراق جهات اتصالك. الأمر `aman drill status` يعرض كيف يجري؛ أرسل التمرين التالي بعد ذلك.
member-drill-delivered = سُلّم
member-drill-failed = فشل
member-drill-not-tried = لم تُجرَّب بعد
member-no-drill = لا تمرين بعد: الأمر `aman drill` يرسل تمرينًا إلى كل جهات الاتصال.
member-drill-sent-at = أُرسل التمرين { $drill } في { $time }.
member-drill-not-told = لم تُبلَّغ جهات اتصالك بعد: ينتظر الخادم أولًا مهلة إرسال عشوائية (الآن { $now }).
member-drill-window-closed = أُغلقت نافذته في { $time }: هذا ما كان عليه حينها؛ ولا يُعرض شيء بعدها.
member-drill-window-open = نافذته مفتوحة حتى { $time }: يُعرض ما تفعله جهات اتصالك حتى ذلك الحين، ولا شيء بعده.
member-drill-unlinked-contact = جهة اتصال لم تعد مرتبطة
member-drill-in-mailbox = في صندوق بريدها
member-drill-not-in-mailbox = ليس في صندوق بريدها بعد
member-drill-acknowledged = أكّدت الاستلام في { $time }
member-drill-not-acknowledged = لم تؤكد الاستلام
member-drill-no-channel = لا قناة (لا شيء يوقظها: لا تراه إلا حين تشغّل `aman alerts`)
member-drill-fetched = جلبه تطبيقها في { $day }
member-drill-not-fetched = لم يجلبه تطبيقها خلال نافذته

## إعدادات الجهاز (`aman config`)

member-config-needs-both = تغيير طريقة وصول هذا الجهاز إلى الخادم يتطلب عبارتي المرور كلتيهما، العادية وعبارة الإكراه، بأي ترتيب
member-config-proxy-socks5 = الوسيط (proxy): { $proxy } (يمر به كل طلب، لكن أسماء الخوادم يبحث عنها هذا الجهاز بنفسه: استخدم socks5h:// مع Tor)
member-config-proxy = الوسيط (proxy): { $proxy } (يمر به كل طلب؛ ولا يُرسل أي طلب من دونه)
member-config-no-proxy = الوسيط (proxy): لا يوجد (تذهب الطلبات إلى الخادم مباشرة)
member-config-private-ca = سلطة الشهادات: سلطة خاصة موثوقة إلى جانب السلطات العامة
member-config-public-ca = سلطة الشهادات: السلطات العامة فقط
member-config-override = (الخيار --proxy أو المتغير AMAN_PROXY في أمر واحد يتجاوز الوسيط المحفوظ في ذلك الأمر.)

## الأوقات

member-not-a-zone = `{ $zone }` ليس اسم منطقة زمنية (اكتبه مثل Asia/Baghdad أو UTC)
member-at-not-a-time = --at: `{ $time }` ليس وقتًا من اليوم (اكتب الأوقات مثل 09:00,21:00)
member-at-empty = --at: أعطِ وقتًا واحدًا من اليوم على الأقل، مثل 09:00
member-clock-impossible = الساعة تشير إلى وقت مستحيل: { $error }
member-date-out-of-range = تاريخ خارج النطاق: { $error }
member-no-checkin-time = لا موعد لتأكيد السلامة في الأيام القادمة
member-not-a-back-by = `{ $text }` ليس وقتًا: اكتبه مثل 18:00 (أقرب 18:00 حيث أنت)، أو 2h30m، أو 2026-11-28T18:00:00+03:00

## عبارات المرور والنصوص المكتوبة

member-noun-passphrase = عبارة المرور
member-noun-duress-passphrase = عبارة مرور الإكراه
member-passphrase-too-easy = من السهل جدًا تخمين { $which }
member-passphrase-advice = عدة كلمات لا رابط بينها، بأي لغة، تصنع عبارة قوية
member-duress-too-close = عبارة مرور الإكراه قريبة جدًا من العبارة العادية: قد يؤدي خطأ مطبعي إلى إرسال إنذار صامت. اختر عبارة تختلف في أكثر من بضعة أحرف.
member-reading-passphrase-stdin = قراءة عبارة مرور من المدخل القياسي (stdin)
member-reading-passphrase = قراءة عبارة مرور (استخدم --passphrase-stdin في السكربتات)
member-empty-passphrase = عبارة المرور فارغة
member-passphrase-again = اكتب { $which } مرة أخرى:
member-passphrases-differ = لم يتطابق ما كتبته في المرتين من { $which }: لم يتغير شيء
member-prompt-new-passphrase = عبارة المرور الجديدة:
member-prompt-duress = عبارة مرور الإكراه (عبارة مختلفة: تأكيد السلامة بها يبدو عاديًا لكنه ينبّه جهات اتصالك بصمت):
member-prompt-new-keystore-passphrase = عبارة مرور جديدة لمخزن المفاتيح هذا:
member-prompt-keystore-duress = عبارة مرور الإكراه (تفتح مخزن المفاتيح هذا أيضًا، ليراه من يحتجزك):
member-noun-note = الملاحظة
member-noun-location = الموقع
member-noun-plan = الخطة
member-noun-ca-file = ملف سلطة الشهادات (CA)
member-reading-path = قراءة { $path }
member-reading-the = قراءة { $what }
member-type-text = اكتب { $what }، ثم أنهِ الإدخال بسطر فارغ:
member-text-too-long = حجم { $what } { $bytes } بايت؛ والحد الأقصى { $max }
member-text-longer-than = حجم { $what } يتجاوز { $max } بايت
member-text-not-utf8 = محتوى { $what } ليس نصًا بترميز UTF-8
member-stdin-once = يمكن أن يكون `-` (المدخل القياسي) لواحد فقط من --note-file و--location-file
member-nothing-typed = لم تكتب شيئًا: بقي محتوى { $what } كما كان.

## Several servers (`aman server`)
member-server-not-reached = تعذّر الوصول إلى { $server } ({ $reason }). لم يستلم هذا الطلب، واستلمته الخوادم الأخرى.
member-server-refused = رفض { $server } الطلب: { $reason }. لم يستلمه، واستلمته الخوادم الأخرى.
member-server-down-long = تحذير: لم يُجب { $server } منذ { $since }. إن كان قد توقف نهائيًا فأضف خادمًا آخر (`aman server add URL --invite CODE`).
member-server-add-both = اكتب عبارة المرور العادية أولًا، ثم عبارة مرور الإكراه (عبارتان مختلفتان)
member-server-too-many = { $max } خوادم على الأكثر
member-server-add-rotating = مفاتيح تأكيد السلامة الجديدة تنتظر انقضاء فترة التهدئة (`aman key rotate`): أضف الخادم بعد أن تسري
member-server-known = { $server } من خوادمك أصلًا
member-server-added = سُجّلت في { $server } أيضًا. أُبلغت جهات اتصالك به (مختومًا لهم: لا يعرف أي خادم خوادمك الأخرى).
member-server-added-no-schedule = لا جدول بعد: الأمر `aman schedule set` يضبطه على كل الخوادم.
member-server-row-deadline = { $server }: يمكن الوصول إليه؛ تُنبَّه جهات الاتصال عبره في { $deadline }.
member-server-row-unarmed = { $server }: يمكن الوصول إليه؛ لا موعد نهائي مفعّل فيه.
member-server-row-down = { $server }: تعذّر الوصول إليه ({ $reason }).
member-server-row-removing = قيد الإزالة: يتوقف في { $time }.
member-server-remove-first = لا يمكن إزالة الخادم الأول (الذي سُجّلت فيه بالأمر init)؛ أضف الخوادم الأخرى أولًا، وأنشئ حسابًا جديدًا إن توقف نهائيًا
member-server-unknown = { $server } ليس من خوادمك (`aman server list`)
member-server-removing = يحذف { $server } حسابك في { $time } (فترة التهدئة؛ تُبلَّغ جهات اتصالك فيه). يستمر في استلام تأكيدات سلامتك حتى ذلك الحين.
member-rotate-mirrors = تدوير المفاتيح مع عدة خوادم غير مدعوم بعد: أزل الخوادم الأخرى أولًا (`aman server remove URL`)
member-server-mailbox-taken = لا ينبّه { $server } جهة الاتصال { $label }: معرّف صندوقها محجوز هناك لشخص آخر. اطلب منها الاقتران من جديد (`aman contact invite`).
