//! The browser harness (`aman_tests::browser`) tested on itself: two tiny
//! pages served from 127.0.0.1 under a strict CSP, driven by headless
//! Chromium: typing, clicking, a `window.confirm`, an RTL Arabic page, and
//! screenshots compared pixel for pixel with a ticking clock masked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aman_tests::browser::{self, Browser, Options};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const INDEX: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>harness</title>
<link rel="stylesheet" href="/app.css"><script src="/app.js" defer></script></head>
<body>
<h1>Harness</h1>
<p>Time: <span id="clock">0</span></p>
<p><input id="name" type="text" autocomplete="off"> <button id="greet">Greet</button></p>
<p id="out">nobody greeted</p>
<p><button id="danger">Delete everything</button> <span id="confirmed">not asked</span></p>
</body></html>"#;

const ARABIC: &str = r#"<!doctype html>
<html dir="rtl" lang="ar"><head><meta charset="utf-8"><title>عربي</title>
<link rel="stylesheet" href="/app.css"></head>
<body>
<h1 id="heading">تسجيل الحضور</h1>
<p><span id="arabic" class="probe">مرحبا بكم في أمان</span></p>
<p><span id="tofu" class="probe"></span></p>
</body></html>"#;

const CSS: &str = r#"body { margin: 16px; font: 18px sans-serif; background: #fff; color: #111; }
#clock { display: inline-block; width: 10em; font-variant-numeric: tabular-nums; }
.probe { font: 24px "Noto Sans Arabic", sans-serif; }
button { font: inherit; }"#;

const JS: &str = "const $ = (id) => document.getElementById(id);
const tick = () => { $('clock').textContent = String(Date.now()); };
tick();
setInterval(tick, 5);
$('greet').addEventListener('click', () => { $('out').textContent = 'Hello, ' + $('name').value + '!'; });
$('danger').addEventListener('click', () => {
  $('confirmed').textContent = window.confirm('Really delete everything?') ? 'accepted' : 'dismissed';
});";

/// Serves the pages on 127.0.0.1; returns the base URL.
async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let (status, kind, body) = match path {
                    "/" => ("200 OK", "text/html; charset=utf-8", INDEX),
                    "/ar" => ("200 OK", "text/html; charset=utf-8", ARABIC),
                    "/app.css" => ("200 OK", "text/css; charset=utf-8", CSS),
                    "/app.js" => ("200 OK", "text/javascript; charset=utf-8", JS),
                    _ => ("404 Not Found", "text/plain; charset=utf-8", "not found"),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                     Content-Security-Policy: {CSP}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    base
}

/// Rendered width of a text in the page's font, in CSS pixels.
async fn text_width(b: &Browser, css: &str, text: &str) -> f64 {
    b.exec("const e = document.querySelector(arguments[0]); e.textContent = arguments[1]; return e.getBoundingClientRect().width;", &[json!(css), json!(text)])
        .await
        .unwrap()
        .as_f64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_harness() {
    if !browser::available_or_skip() {
        return;
    }
    let started = Instant::now();
    let base = serve().await;
    let wait = Duration::from_secs(10);

    let mut b = Browser::start(Options::phone("en-US")).await.unwrap();
    println!("browser up in {:?}", started.elapsed());
    b.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(b.current_url().await.unwrap(), format!("{base}/"));
    assert_eq!(b.title().await.unwrap(), "harness");
    assert!(b.page_source().await.unwrap().contains("Delete everything"));
    assert_eq!(b.exec("return navigator.language", &[]).await.unwrap(), json!("en-US"));

    // The CSP holds (an inline script does not run) and the page's own
    // script does.
    let inline = b
        .exec(
            "const s = document.createElement('script'); s.textContent = 'window.__inline = 1';
             document.head.appendChild(s); return window.__inline === undefined;",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(inline, json!(true), "the page's CSP let an inline script run");
    b.wait_until("return document.getElementById('clock').textContent.length > 5", wait).await.unwrap();

    // No network but loopback.
    let err = b.goto("http://example.com/").await.unwrap_err();
    println!("example.com: {err:#}");
    // localhost is loopback too.
    b.goto(&format!("{}/", base.replace("127.0.0.1", "localhost"))).await.unwrap();
    assert_eq!(b.title().await.unwrap(), "harness");
    b.goto(&format!("{base}/")).await.unwrap();

    // The viewport is the size asked for, and so is the screenshot.
    let inner = b.exec("return [innerWidth, innerHeight, devicePixelRatio]", &[]).await.unwrap();
    assert_eq!(inner, json!([390, 844, 1]));
    let shot = b.screenshot().await.unwrap();
    assert_eq!(browser::png_size(&shot).unwrap(), (390, 844));

    println!("page checks done at {:?}", started.elapsed());
    // Type, click, the text changes.
    let name = b.wait_for("#name", wait).await.unwrap();
    name.send_keys("Amal").await.unwrap();
    assert_eq!(name.property("value").await.unwrap(), json!("Amal"));
    assert_eq!(b.find("#out").await.unwrap().text().await.unwrap(), "nobody greeted");
    b.find("#greet").await.unwrap().click().await.unwrap();
    b.wait_for_text("#out", "Hello, Amal!", wait).await.unwrap();
    assert_eq!(b.find_all("button").await.unwrap().len(), 2);
    assert!(b.try_find("#nothing-here").await.unwrap().is_none());
    assert!(b.find("#nothing-here").await.is_err());

    // A confirm, dismissed and then accepted.
    let danger = b.find("#danger").await.unwrap();
    danger.click().await.unwrap();
    assert_eq!(b.wait_for_alert(wait).await.unwrap(), "Really delete everything?");
    b.dismiss_alert().await.unwrap();
    b.wait_for_text("#confirmed", "dismissed", wait).await.unwrap();
    danger.click().await.unwrap();
    b.wait_for_alert(wait).await.unwrap();
    b.accept_alert().await.unwrap();
    b.wait_for_text("#confirmed", "accepted", wait).await.unwrap();
    assert_eq!(b.alert_text().await.unwrap(), None);

    println!("forms and dialogs done at {:?}", started.elapsed());
    // Masked, two screenshots are the same pixels though the clock moved;
    // unmasked they differ. The focused input's caret is hidden by the mask.
    name.click().await.unwrap();
    let clock = b.find("#clock").await.unwrap();
    let t1 = clock.text().await.unwrap();
    let masked1 = b.screenshot_masked(&["#clock"]).await.unwrap();
    // Past a blink of the caret (about half a second).
    tokio::time::sleep(Duration::from_millis(600)).await;
    let masked2 = b.screenshot_masked(&["#clock"]).await.unwrap();
    // Without the focus (so without a blinking caret), unmasked.
    b.exec("document.activeElement.blur()", &[]).await.unwrap();
    let plain1 = b.screenshot().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let plain2 = b.screenshot().await.unwrap();
    let t2 = clock.text().await.unwrap();
    assert_ne!(t1, t2, "the clock did not move");
    browser::pixels_equal(&masked1, &masked2).unwrap_or_else(|e| {
        let dir = std::env::temp_dir().join("aman-browser-harness");
        browser::save_png(dir.join("masked1.png"), &masked1).unwrap();
        browser::save_png(dir.join("masked2.png"), &masked2).unwrap();
        browser::save_png(dir.join("masked-diff.png"), &browser::diff_png(&masked1, &masked2).unwrap()).unwrap();
        panic!("masked screenshots differ: {e} (saved in {})", dir.display())
    });
    let diff = browser::pixels_equal(&plain1, &plain2).expect_err("unmasked screenshots are identical");
    println!("unmasked: {diff}");
    // The difference is the clock, and only the clock.
    let (x, y, w, h) = clock.rect().await.unwrap();
    let d = browser::pixel_diff(&plain1, &plain2).unwrap().unwrap();
    assert!(
        f64::from(d.x0) >= x.floor()
            && f64::from(d.y0) >= y.floor()
            && f64::from(d.x1) <= x + w
            && f64::from(d.y1) <= y + h,
        "unmasked difference {d} is outside the clock at {x},{y} {w}x{h}"
    );
    // The mask is gone afterwards.
    assert_eq!(b.exec("return document.getElementById('clock').style.visibility", &[]).await.unwrap(), json!(""));
    assert!(b.find("#clock").await.unwrap().is_displayed().await.unwrap());
    // Sizes that differ are reported as such.
    b.set_window_size(1024, 700).await.unwrap();
    let wide = b.screenshot().await.unwrap();
    assert_eq!(browser::png_size(&wide).unwrap(), (1024, 700));
    let err = browser::pixels_equal(&plain1, &wide).unwrap_err();
    assert!(err.contains("sizes differ"), "{err}");
    b.quit().await.unwrap();

    println!("screenshots done at {:?}", started.elapsed());
    // The Arabic page, right to left, with real glyphs.
    let b = Browser::start(Options::phone("ar")).await.unwrap();
    b.goto(&format!("{base}/ar")).await.unwrap();
    let html = b.find("html").await.unwrap();
    assert_eq!(html.attr("dir").await.unwrap().as_deref(), Some("rtl"));
    assert_eq!(html.attr("lang").await.unwrap().as_deref(), Some("ar"));
    assert_eq!(b.exec("return getComputedStyle(document.body).direction", &[]).await.unwrap(), json!("rtl"));
    assert_eq!(b.find("#heading").await.unwrap().text().await.unwrap(), "تسجيل الحضور");
    assert_eq!(b.exec("return navigator.language", &[]).await.unwrap(), json!("ar"));
    println!("Arabic page open at {:?}", started.elapsed());
    let fonts = b.platform_fonts("#arabic").await.unwrap();
    println!("Arabic drawn with {fonts:?}");
    assert!(!fonts.is_empty());
    // The stylesheet asks for Noto Sans Arabic (fonts-noto-core).
    if std::path::Path::new("/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf").exists() {
        assert!(fonts.iter().any(|(family, glyphs)| family == "Noto Sans Arabic" && *glyphs > 0), "{fonts:?}");
    }

    // Every letter drawn differently from the others and from the glyph
    // of a character no font has (tofu); the word narrower than as many
    // tofu boxes (joined letters are narrow).
    let letters = ["ب", "ج", "س", "م", "ع", "ك"];
    let tofu = "\u{10FFFD}";
    let mut seen: Vec<(String, serde_json::Value)> = Vec::new();
    for ch in letters.iter().copied().chain([tofu]) {
        let img = b
            .exec(
                "const c = document.createElement('canvas'); c.width = 64; c.height = 64;
                 const g = c.getContext('2d'); g.font = getComputedStyle(document.getElementById('arabic')).font;
                 g.fillStyle = '#000'; g.fillText(arguments[0], 16, 44);
                 return Array.from(g.getImageData(0, 0, 64, 64).data.filter((_, i) => i % 4 == 3)).join(',');",
                &[json!(ch)],
            )
            .await
            .unwrap();
        assert!(img.as_str().unwrap().split(',').any(|a| a != "0"), "{ch:?} drew nothing");
        for (other, other_img) in &seen {
            assert_ne!(&img, other_img, "{ch:?} looks like {other:?}: tofu?");
        }
        seen.push((ch.to_owned(), img));
    }
    // Shaped: the word is narrower than its letters drawn one by one
    // (joined forms are narrow, isolated ones wide); tofu would not join.
    let word = "مرحبا";
    let word_width = text_width(&b, "#tofu", word).await;
    let mut isolated = 0.0;
    for ch in word.chars() {
        isolated += text_width(&b, "#tofu", &ch.to_string()).await;
    }
    let tofu_width = text_width(&b, "#tofu", &tofu.repeat(word.chars().count())).await;
    println!("width of {word}: {word_width}px; its letters one by one: {isolated}px; as many tofu: {tofu_width}px");
    assert!(word_width > 0.0 && word_width < isolated * 0.95, "{word_width} vs {isolated}");
    assert!((word_width - tofu_width).abs() > 0.5, "{word_width} vs {tofu_width}");
    let arabic_rect = b.find("#arabic").await.unwrap().rect().await.unwrap();
    assert!(arabic_rect.2 > 50.0, "{arabic_rect:?}");

    // A picture for a README, written where asked.
    let shot = b.screenshot().await.unwrap();
    if let Some(dir) = std::env::var_os("AMAN_SCREENSHOTS") {
        browser::save_png(std::path::Path::new(&dir).join("harness-ar.png"), &shot).unwrap();
    }
    drop(b);
    let elapsed = started.elapsed();
    println!("browser harness: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}
