//! Bounded reads from the API server, shared by the plan's live set, the base's revision
//! annotations and the daemon's drift watch: paginated lists whose every page body is read
//! up to a byte limit, a list started over when the server expires its continue token, and
//! watch lines read up to a byte limit. Nothing the API server sends is buffered without
//! bound.
//!
//! The apiserver expires a continue token once etcd has compacted the revision its list
//! began at (every five minutes by default), answering `410 Expired`. That status carries
//! a token to go on at the latest revision, but the pages would then mix two revisions:
//! an object deleted in between could be read from an early page and acted on. The
//! pager instead starts the list over, and tells its caller to drop what it has read
//! ([`Paged::Restarted`]); after [`MAX_RESTARTS`] in a row it gives up.

use futures::{AsyncBufRead, AsyncBufReadExt};
use kube::api::ListParams;

/// Every NetworkPolicy, cluster-wide.
pub(crate) const NETWORK_POLICIES_PATH: &str = "/apis/networking.k8s.io/v1/networkpolicies";
/// Every Namespace.
pub(crate) const NAMESPACES_PATH: &str = "/api/v1/namespaces";

/// Page size for lists: what kubectl uses, so a 10,000-object list is never one giant body.
const LIST_PAGE: u32 = 500;

/// Largest page body read: 128 KiB for each of [`LIST_PAGE`] objects, about fifty times a
/// large NetworkPolicy with its managedFields. A server sending more is refused rather
/// than buffered without bound.
const MAX_LIST_PAGE_BYTES: usize = 64 * 1024 * 1024;

/// Lists started over after an expired continue token before the read fails. A list of
/// 10,000 objects takes a fraction of a second; losing three in a row to compaction means
/// something else is wrong.
pub(crate) const MAX_RESTARTS: u32 = 3;

/// How much one page may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageLimits {
    /// Objects asked for per page (`limit`).
    pub items: u32,
    /// Body bytes read per page before refusing it.
    pub bytes: usize,
}

impl Default for PageLimits {
    fn default() -> Self {
        PageLimits {
            items: LIST_PAGE,
            bytes: MAX_LIST_PAGE_BYTES,
        }
    }
}

/// Why one page of a list could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    Request(#[from] kube::Error),
    #[error("reading the response")]
    Read(#[source] std::io::Error),
    #[error("the API server sent a list page larger than {limit} bytes; refusing to buffer it")]
    TooLarge { limit: usize },
    #[error(
        "the API server expired the list's continue token {restarts} times in a row \
         (410 Expired: its storage compacted the list's revision while it was being read)"
    )]
    Expired { restarts: u32 },
}

/// A list page and the token for the next one.
pub(crate) trait ListPage: serde::de::DeserializeOwned {
    fn continue_token(&self) -> Option<&str>;
}

impl<T: Clone + serde::de::DeserializeOwned> ListPage for kube::core::ObjectList<T> {
    fn continue_token(&self) -> Option<&str> {
        self.metadata.continue_.as_deref()
    }
}

/// What [`Pager::next`] hands over.
pub(crate) enum Paged<P> {
    Page(P),
    /// The list starts over from its first page: forget every page handed over so far.
    Restarted,
}

/// The pages of one list, in order.
pub(crate) struct Pager<'a> {
    client: &'a kube::Client,
    path: &'a str,
    limits: PageLimits,
    params: ListParams,
    labels: Option<String>,
    restarts: u32,
    done: bool,
}

impl<'a> Pager<'a> {
    pub(crate) fn new(client: &'a kube::Client, path: &'a str, limits: PageLimits) -> Self {
        Pager {
            client,
            path,
            limits,
            params: ListParams::default().limit(limits.items),
            labels: None,
            restarts: 0,
            done: false,
        }
    }

    /// Only objects matching the label `selector`.
    pub(crate) fn with_labels(mut self, selector: &str) -> Self {
        self.labels = Some(selector.to_string());
        self.params = self.first_page();
        self
    }

    fn first_page(&self) -> ListParams {
        let params = ListParams::default().limit(self.limits.items);
        match &self.labels {
            Some(selector) => params.labels(selector),
            None => params,
        }
    }

    /// Every page folded into `acc` by `add`. When the list starts over, `reset` empties
    /// `acc` first, so it never holds pages of two revisions.
    pub(crate) async fn fold<P: ListPage, A>(
        mut self,
        mut acc: A,
        reset: impl Fn(&mut A),
        mut add: impl FnMut(&mut A, P),
    ) -> Result<A, PageError> {
        while let Some(paged) = self.next::<P>().await? {
            match paged {
                Paged::Page(page) => add(&mut acc, page),
                Paged::Restarted => reset(&mut acc),
            }
        }
        Ok(acc)
    }

    /// The next page, a restart, or `None` after the last page.
    pub(crate) async fn next<P: ListPage>(&mut self) -> Result<Option<Paged<P>>, PageError> {
        if self.done {
            return Ok(None);
        }
        let page: P =
            match fetch_page(self.client, self.path, &self.params, self.limits.bytes).await {
                Ok(page) => page,
                Err(PageError::Request(kube::Error::Api(status)))
                    if status.code == 410 && self.params.continue_token.is_some() =>
                {
                    if self.restarts == MAX_RESTARTS {
                        return Err(PageError::Expired {
                            restarts: self.restarts,
                        });
                    }
                    self.restarts += 1;
                    tracing::info!(
                        path = self.path,
                        restart = self.restarts,
                        "list continue token expired (410); starting the list over"
                    );
                    self.params = self.first_page();
                    return Ok(Some(Paged::Restarted));
                }
                Err(e) => return Err(e),
            };
        match page.continue_token().filter(|c| !c.is_empty()) {
            Some(token) => self.params = self.first_page().continue_token(token),
            None => self.done = true,
        }
        Ok(Some(Paged::Page(page)))
    }
}

/// One page of the list at `path`, its body read up to `limit` bytes.
pub(crate) async fn fetch_page<T: serde::de::DeserializeOwned>(
    client: &kube::Client,
    path: &str,
    params: &ListParams,
    limit: usize,
) -> Result<T, PageError> {
    use futures::AsyncReadExt;
    let request = kube::core::Request::new(path)
        .list(params)
        .map_err(kube::Error::BuildRequest)?;
    let body = client.request_stream(request).await?;
    let mut bytes = Vec::new();
    body.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(PageError::Read)?;
    if bytes.len() > limit {
        return Err(PageError::TooLarge { limit });
    }
    Ok(serde_json::from_slice(&bytes).map_err(kube::Error::SerdeError)?)
}

/// Why a line of a stream could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("reading the stream")]
    Read(#[source] std::io::Error),
    #[error("a line longer than {limit} bytes; refusing to buffer it")]
    TooLarge { limit: usize },
}

/// The next line of `reader` into `line` (without its newline), at most `limit` bytes;
/// false at the end of the stream.
pub(crate) async fn next_line(
    reader: &mut (impl AsyncBufRead + Unpin),
    line: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, LineError> {
    line.clear();
    loop {
        let available = reader.fill_buf().await.map_err(LineError::Read)?;
        if available.is_empty() {
            return Ok(!line.is_empty());
        }
        let (taken, done) = match available.iter().position(|b| *b == b'\n') {
            Some(end) => (end + 1, true),
            None => (available.len(), false),
        };
        let content = if done { taken - 1 } else { taken };
        if line.len() + content > limit {
            return Err(LineError::TooLarge { limit });
        }
        line.extend_from_slice(&available[..content]);
        reader.consume_unpin(taken);
        if done {
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netpol_testkit::cluster::{create_policies, start};

    #[tokio::test]
    async fn lines_are_split_across_reads_and_bounded() {
        let text = b"{\"a\":1}\n\n{\"b\":2}".to_vec();
        let mut reader = futures::io::BufReader::with_capacity(3, futures::io::Cursor::new(text));
        let mut line = Vec::new();
        assert!(next_line(&mut reader, &mut line, 64).await.unwrap());
        assert_eq!(line, b"{\"a\":1}");
        assert!(next_line(&mut reader, &mut line, 64).await.unwrap());
        assert!(line.is_empty());
        assert!(next_line(&mut reader, &mut line, 64).await.unwrap());
        assert_eq!(line, b"{\"b\":2}", "a last line without a newline");
        assert!(!next_line(&mut reader, &mut line, 64).await.unwrap());

        let endless = futures::io::Cursor::new(vec![b'x'; 1000]);
        let mut reader = futures::io::BufReader::new(endless);
        assert!(matches!(
            next_line(&mut reader, &mut line, 999).await,
            Err(LineError::TooLarge { limit: 999 })
        ));
        let exact = futures::io::Cursor::new(vec![b'x'; 999]);
        let mut reader = futures::io::BufReader::new(exact);
        assert!(next_line(&mut reader, &mut line, 999).await.unwrap());
        assert_eq!(line.len(), 999);
    }
    use apiserver_emu::{FaultAction, FaultRule};
    use k8s_openapi::api::networking::v1::NetworkPolicy;

    const PATH: &str = "/apis/networking.k8s.io/v1/networkpolicies";

    fn one_per_page() -> PageLimits {
        PageLimits {
            items: 1,
            ..PageLimits::default()
        }
    }

    async fn names_of(pages: &mut Pager<'_>) -> Vec<String> {
        let mut names = Vec::new();
        while let Some(paged) = pages
            .next::<kube::core::ObjectList<NetworkPolicy>>()
            .await
            .unwrap()
        {
            match paged {
                Paged::Page(page) => names.extend(
                    page.items
                        .into_iter()
                        .map(|np| np.metadata.name.unwrap_or_default()),
                ),
                Paged::Restarted => names.clear(),
            }
        }
        names
    }

    #[tokio::test]
    async fn a_list_whose_revision_is_compacted_mid_read_starts_over_and_sees_the_new_state() {
        let cluster = start(&["payments"]).await;
        create_policies(&cluster.client, "payments", &["a", "b", "c"]).await;
        let mut pages = Pager::new(&cluster.client, PATH, one_per_page());
        let first = pages
            .next::<kube::core::ObjectList<NetworkPolicy>>()
            .await
            .unwrap();
        assert!(matches!(first, Some(Paged::Page(ref p)) if p.items.len() == 1));
        // Between two pages: `a`, already read, is deleted, and etcd compacts.
        let api: kube::Api<NetworkPolicy> =
            kube::Api::namespaced(cluster.client.clone(), "payments");
        api.delete("a", &Default::default()).await.unwrap();
        cluster.emu.compact();
        let second = pages
            .next::<kube::core::ObjectList<NetworkPolicy>>()
            .await
            .unwrap();
        assert!(matches!(second, Some(Paged::Restarted)));
        // The rest is the list read again from its start, without the deleted `a`.
        assert_eq!(names_of(&mut pages).await, ["b", "c"]);
        cluster.emu.shutdown();
    }

    #[tokio::test]
    async fn a_list_expired_again_and_again_gives_up_after_its_restarts() {
        let cluster = start(&["payments"]).await;
        create_policies(&cluster.client, "payments", &["a", "b"]).await;
        cluster.emu.inject(
            FaultRule::new(PATH, FaultAction::Expired)
                .method("GET")
                .query_param("continue"),
        );
        let mut pages = Pager::new(&cluster.client, PATH, one_per_page());
        let mut restarts = 0;
        let err = loop {
            match pages.next::<kube::core::ObjectList<NetworkPolicy>>().await {
                Ok(Some(Paged::Restarted)) => restarts += 1,
                Ok(Some(Paged::Page(_))) => {}
                Ok(None) => panic!("the list cannot complete while every continue expires"),
                Err(e) => break e,
            }
        };
        assert_eq!(restarts, MAX_RESTARTS);
        assert!(
            matches!(err, PageError::Expired { restarts } if restarts == MAX_RESTARTS),
            "{err}"
        );
        assert!(err.to_string().contains("410 Expired"), "{err}");
        cluster.emu.shutdown();
    }

    #[tokio::test]
    async fn an_expired_first_page_is_an_error_not_a_restart() {
        let cluster = start(&["payments"]).await;
        cluster.emu.inject(
            FaultRule::new(PATH, FaultAction::Expired)
                .method("GET")
                .times(1),
        );
        let mut pages = Pager::new(&cluster.client, PATH, one_per_page());
        let err = pages
            .next::<kube::core::ObjectList<NetworkPolicy>>()
            .await
            .err()
            .expect("a 410 on a first page has nothing to start over from");
        assert!(
            matches!(&err, PageError::Request(kube::Error::Api(s)) if s.code == 410),
            "{err}"
        );
        cluster.emu.shutdown();
    }
}
