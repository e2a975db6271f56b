//! Name conversions shared by every consumer, so a name is derived in exactly one way.

/// `created_at` -> `createdAt`.
pub fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `BlogPost` -> `blogPost`.
/// `slug` → `Slug`: the first letter upper-cased.
pub fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

pub fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `BlogPost` -> `Blog_Post` boundaries as `blog_post`.
pub fn snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.extend(c.to_lowercase());
            prev_lower = false;
        } else {
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
            out.push(c);
        }
    }
    out
}

/// `InReview` -> `IN_REVIEW`.
pub fn screaming_snake_case(s: &str) -> String {
    snake_case(s).to_uppercase()
}

/// English plural good enough for model names; `#[model(plural = "...")]` overrides it.
pub fn plural(s: &str) -> String {
    let lower = s.to_lowercase();
    if lower.ends_with('s')
        || lower.ends_with('x')
        || lower.ends_with('z')
        || lower.ends_with("ch")
        || lower.ends_with("sh")
    {
        format!("{s}es")
    } else if lower.ends_with('y')
        && !matches!(
            lower.chars().rev().nth(1),
            Some('a' | 'e' | 'i' | 'o' | 'u')
        )
    {
        format!("{}ies", &s[..s.len() - 1])
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(camel_case("created_at"), "createdAt");
        assert_eq!(camel_case("id"), "id");
        assert_eq!(camel_case("_private_x"), "privateX");
        assert_eq!(lower_first("BlogPost"), "blogPost");
        assert_eq!(snake_case("BlogPost"), "blog_post");
        assert_eq!(snake_case("Post2Tag"), "post2_tag");
        assert_eq!(screaming_snake_case("InReview"), "IN_REVIEW");
        assert_eq!(plural("Post"), "Posts");
        assert_eq!(plural("category"), "categories");
        assert_eq!(plural("day"), "days");
        assert_eq!(plural("Box"), "Boxes");
        assert_eq!(plural("address"), "addresses");
    }
}
