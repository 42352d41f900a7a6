//! The member's response plan: what contacts should do when an alert (or a
//! drill) comes. It is sealed with the note, to the contacts only (PROTOCOL
//! §6: the body's optional plan, after the roster), so the server never
//! reads it; contacts see it with every alert and drill.

use crate::context::{Ctx, Report};
use crate::error::ClientError;
use crate::member::{complete_pairings, reseal, signer};
use crate::state::Vault;
use aman_protocol::alert::MAX_PLAN_LEN;
use aman_protocol::api::{SealedAlertUpdate, B64};
use aman_protocol::routes;
use serde_json::json;

/// The languages `aman plan template` writes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Arabic (Modern Standard Arabic).
    Ar,
}

/// A starting plan, drawn from published guidance for human-rights
/// defenders at risk, to be edited before it is set.
pub fn template(lang: Lang) -> &'static str {
    match lang {
        Lang::En => TEMPLATE_EN,
        Lang::Ar => TEMPLATE_AR,
    }
}

const TEMPLATE_EN: &str = "\
Response plan: what to do if I am taken or go missing.
(A starting point drawn from Front Line Defenders, \"Workbook on Security: Practical Steps for Human Rights Defenders at Risk\" (2011), and Protection International, \"New Protection Manual for Human Rights Defenders\" (3rd edition, 2009). Replace every [bracket], delete what does not fit, keep it short.)

1. The first hour
- Try to reach me once, on [my number / Signal]. If I do not answer, do not keep calling or messaging: someone else may hold my phone.
- Call my lawyer first: [name, number]. They can ask where I am held and demand to see me.
- Then tell [trusted organisation or network, contact person], who know my work and what to do.

2. Write down what you know
- When and where I was last seen, who I was with, any vehicle, uniform or unit.
- Keep a log of what you learn, when, and whom you told. Share it only with my lawyer and [organisation].

3. Whom to tell, and whom not
- My family: tell [name] in person or on [a secure channel]. Do NOT call my family's landline: it may be listened to.
- Do NOT post on social media or talk to journalists until [my lawyer / organisation] agrees. Publicity can protect me or put me at more risk: decide it with them.
- When they agree: [accounts, journalists, embassies], and international organisations such as Front Line Defenders' 24-hour emergency line.

4. My things
- [Name] may lock or wipe my accounts: [which, and how].
- Do not go to my home or office alone.

5. If I come back, or check in
- A check-in from my phone can be forced. Before you stand down, ask me [a question only I can answer], in person or by voice.
";

const TEMPLATE_AR: &str = "\
خطة الاستجابة: ماذا تفعلون إذا اختُطفت أو اختفيت.
(نقطة انطلاق مستمدة من دليل منظمة Front Line Defenders «Workbook on Security: Practical Steps for Human Rights Defenders at Risk» (2011)، ومن دليل منظمة Protection International «New Protection Manual for Human Rights Defenders» (الطبعة الثالثة، 2009). استبدلوا كل ما بين [معقوفين]، واحذفوا ما لا يناسب، واجعلوها قصيرة.)

1. الساعة الأولى
- حاولوا الاتصال بي مرة واحدة على [رقمي / سيغنال]. إن لم أُجب فلا تكرروا الاتصال أو الرسائل: قد يكون هاتفي في يد غيري.
- اتصلوا بمحاميّ أولاً: [الاسم، الرقم]. يستطيع أن يسأل عن مكان احتجازي وأن يطالب برؤيتي.
- ثم أبلغوا [منظمة أو شبكة موثوقة، والشخص المسؤول فيها]، فهم يعرفون عملي وما يجب فعله.

2. دوّنوا ما تعرفونه
- متى وأين شوهدت آخر مرة، ومن كان معي، وأي سيارة أو زي أو جهة.
- احتفظوا بسجل لما تعرفونه ومتى ولمن أبلغتموه. لا تشاركوه إلا مع محاميّ و[المنظمة].

3. من تُبلغون ومن لا تُبلغون
- عائلتي: أبلغوا [الاسم] وجهاً لوجه أو عبر [قناة آمنة]. لا تتصلوا بالهاتف الأرضي لعائلتي: قد يكون مراقَباً.
- لا تنشروا شيئاً على وسائل التواصل الاجتماعي ولا تتحدثوا إلى الصحفيين قبل موافقة [محاميّ / المنظمة]. قد تحميني العلنية وقد تزيد الخطر عليّ: قرروا ذلك معهم.
- بعد موافقتهم: [حسابات، صحفيون، سفارات]، والمنظمات الدولية مثل خط الطوارئ لمنظمة Front Line Defenders العامل على مدار الساعة.

4. أغراضي
- يمكن لـ[الاسم] أن يقفل حساباتي أو يمحوها: [أيها، وكيف].
- لا تذهبوا إلى بيتي أو مكتبي وحدكم.

5. إن عدت أو أرسلت تأكيد سلامة
- يمكن إجباري على إرسال تأكيد السلامة من هاتفي. قبل أن تتوقفوا، اسألوني [سؤالاً لا يعرف جوابه غيري]، وجهاً لوجه أو بصوتي.
";

/// `aman plan set`: keeps the plan in the member's book and, once a contact
/// is linked, seals it with the note and sends the sealed alert at once
/// (an empty plan removes it). Every later seal carries it.
pub async fn set(ctx: &Ctx, vault: &mut Vault, plan: &str) -> Result<Report, ClientError> {
    if plan.len() > MAX_PLAN_LEN {
        return Err(ClientError::State(crate::t!(
            "member-plan-too-long",
            bytes = plan.len().to_string(),
            max = MAX_PLAN_LEN.to_string()
        )));
    }
    let linked = complete_pairings(ctx, vault).await?.linked;
    let Some(book) = vault.book.member.as_mut() else {
        return Err(ClientError::State(crate::t!("member-no-account")));
    };
    book.plan = plan.to_owned();
    // Kept first: should sending fail, the next check-in seals it (the
    // sealed alert on record no longer matches the book).
    vault.save()?;
    let (book, key) = vault.member()?;
    let contacts = book.linked_contacts();
    if contacts > 0 {
        let mut updated = book.clone();
        let sealed = reseal(&mut updated, key)?;
        let client = ctx.client(&updated.server)?;
        let body = SealedAlertUpdate { sealed_alert: B64(sealed.clone()) };
        client.call(&routes::UpdateSealedAlert, &body, &signer(&updated, key)?).await?;
        let _ = crate::servers::mirror_sealed(ctx, &updated, key, &sealed).await;
        vault.book.member = Some(updated);
        vault.save()?;
    }
    let mut text: Vec<String> = linked.iter().map(|l| crate::t!("member-contact-linked", label = l)).collect();
    text.push(match (plan.is_empty(), contacts) {
        (true, 0) => crate::t!("member-plan-removed"),
        (true, _) => crate::t!("member-plan-removed-linked"),
        (false, 0) => crate::t!("member-plan-kept"),
        (false, n) => crate::t!("member-plan-sealed", count = n),
    });
    Ok(Report {
        json: json!({ "plan_bytes": plan.len(), "sealed_to": contacts, "linked": linked }),
        text: text.join("\n"),
    })
}

/// `aman plan show`.
pub fn show(vault: &Vault) -> Result<Report, ClientError> {
    let (book, _) = vault.member()?;
    let plan = (!book.plan.is_empty()).then(|| book.plan.clone());
    let text = match &plan {
        Some(p) => crate::wording::printable(p, usize::MAX),
        None => crate::t!("member-no-plan"),
    };
    Ok(Report { json: json!({ "plan": plan }), text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_templates_fit_a_sealed_plan_and_name_their_sources() {
        for lang in [Lang::En, Lang::Ar] {
            let t = template(lang);
            assert!(t.len() <= MAX_PLAN_LEN, "{lang:?}: {} bytes", t.len());
            assert!(t.contains("Front Line Defenders") && t.contains("Protection International"), "{lang:?}");
            assert!(t.contains("Workbook on Security") && t.contains("New Protection Manual"), "{lang:?}");
        }
        // Arabic script, not a transliteration.
        let arabic = template(Lang::Ar).chars().filter(|c| ('\u{0600}'..='\u{06FF}').contains(c)).count();
        assert!(arabic > 500, "{arabic}");
    }
}
