//! Every image an example runs exists and stays what it was: each
//! `image:` in a manifest has a pinned tag (not `latest`, not missing) or
//! a digest, and a comment right above it (or on its line) saying
//! `Origin:` — where the image comes from, so that a reader can check it
//! exists. Every Helm chart, which brings its own images, is pinned to an
//! exact version.

use crate::spec::{self, Spec};

/// One `image:` line of a manifest text.
struct ImageLine {
    origin: String,
    image: String,
    comment: String,
}

/// The `image:` lines of a YAML text, with the comment block right above
/// each (and any comment on the line itself).
fn image_lines(origin: &str, text: &str) -> Vec<ImageLine> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start().trim_start_matches("- ");
        let Some(value) = t.strip_prefix("image:") else {
            continue;
        };
        let (image, trailing) = match value.split_once(" #") {
            Some((v, c)) => (v, c),
            None => (value, ""),
        };
        let mut comment = vec![trailing.to_string()];
        for above in lines[..i].iter().rev() {
            match above.trim_start().strip_prefix('#') {
                Some(c) => comment.push(c.to_string()),
                None => break,
            }
        }
        out.push(ImageLine {
            origin: format!("{origin} line {}", i + 1),
            image: image.trim().trim_matches(['"', '\'']).to_string(),
            comment: comment.join(" "),
        });
    }
    out
}

/// Why `image` floats, if it does.
fn floating(image: &str) -> Option<&'static str> {
    if image.contains("@sha256:") {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Some("it has no tag, so it is `latest`"),
        Some((_, "latest")) => Some("`latest` moves"),
        Some((_, tag)) if !tag.chars().any(|c| c.is_ascii_digit()) => {
            Some("a tag without a version moves")
        }
        _ => None,
    }
}

/// Every manifest text of a spec: inline `content` and `file()`s.
fn manifest_texts(spec: &Spec) -> Vec<(String, String)> {
    spec.of_type("k8s_manifest")
        .map(|(address, body)| {
            (
                format!("{} {address}", spec.file),
                body["content"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn problems(spec: &Spec) -> Vec<String> {
    let mut out = Vec::new();
    let mut written = Vec::new();
    for (origin, text) in manifest_texts(spec) {
        for l in image_lines(&origin, &text) {
            if let Some(why) = floating(&l.image) {
                out.push(format!(
                    "{}: image {} is not pinned: {why}",
                    l.origin, l.image
                ));
            }
            if !l.comment.contains("Origin:") {
                out.push(format!(
                    "{}: image {} has no `# Origin: …` comment naming where it comes from",
                    l.origin, l.image
                ));
            }
            written.push(l.image);
        }
    }
    // Every image of every pod template was seen as a line above.
    for (address, o) in spec.manifest_objects() {
        let pod = &o["spec"]["template"]["spec"];
        for c in ["initContainers", "containers"]
            .iter()
            .flat_map(|k| pod[k].as_array().into_iter().flatten())
        {
            let image = c["image"].as_str().unwrap_or_default().to_string();
            if !written.contains(&image) {
                out.push(format!(
                    "{} {address}: image {image:?} was not found as an `image:` line",
                    spec.file
                ));
            }
        }
    }
    for (address, body) in spec.of_type("helm_release") {
        let version = body["version"].as_str().unwrap_or_default();
        let exact = !version.is_empty()
            && version.chars().next().is_some_and(|c| c.is_ascii_digit())
            && !version.contains(['*', 'x', '^', '~', '>', '<', ' ', ',']);
        if !exact {
            out.push(format!(
                "{} {address}: chart {} is not pinned to an exact version ({version:?}); its images move with it",
                spec.file, body["chart"]
            ));
        }
    }
    out
}

#[test]
fn every_image_is_pinned_and_names_its_origin() {
    let mut all = Vec::new();
    let mut seen = 0;
    for spec in spec::all() {
        seen += manifest_texts(&spec)
            .iter()
            .map(|(o, t)| image_lines(o, t).len())
            .sum::<usize>();
        all.extend(problems(&spec));
    }
    assert!(seen > 0, "no images found in the examples");
    assert!(all.is_empty(), "{}", all.join("\n"));
}

#[test]
fn the_check_refuses_floating_tags_and_images_of_unnamed_origin() {
    assert_eq!(floating("grafana/agent:v0.44.2"), None);
    assert_eq!(
        floating("672518094988.dkr.ecr.us-west-2.amazonaws.com/hello-world:v1.0"),
        None
    );
    assert_eq!(floating("localhost:5000/x@sha256:0123"), None);
    assert!(floating("curlimages/curl").is_some());
    assert!(floating("localhost:5000/curl").is_some());
    assert!(floating("curlimages/curl:latest").is_some());
    assert!(floating("busybox:stable").is_some());
    let text = "containers:\n  - name: a\n    # Origin: the upstream sample\n    image: a:1.0\n  - name: b\n    image: b:1.0 # Origin: upstream\n  - name: c\n    image: c:1.0\n";
    let lines = image_lines("t", text);
    let named: Vec<bool> = lines
        .iter()
        .map(|l| l.comment.contains("Origin:"))
        .collect();
    assert_eq!(named, [true, true, false]);
}
