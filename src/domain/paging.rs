//! Page-numbered lists: one page of rows and the number of rows on all pages. Both
//! surfaces number pages from 1; the contract bounds the page and its size before a request
//! gets here.

/// One page of `T` and the number of rows on all pages.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

impl<T> Page<T> {
    /// Whether rows follow this page (`page` of `limit` rows each).
    pub fn has_more(&self, page: u64, limit: u64) -> bool {
        page.saturating_mul(limit) < self.total
    }
}

/// The rows before page `page` of `limit` rows each.
pub fn offset(page: u64, limit: u64) -> u64 {
    page.saturating_sub(1).saturating_mul(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_start_at_one_and_know_whether_more_follow() {
        assert_eq!(offset(1, 20), 0);
        assert_eq!(offset(3, 20), 40);
        assert_eq!(offset(0, 20), 0);
        let page = Page {
            items: vec![1, 2],
            total: 42,
        };
        assert!(page.has_more(2, 20));
        assert!(!page.has_more(3, 20));
    }
}
