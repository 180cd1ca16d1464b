//! Page data: resources whose values travel from the server render to the
//! browser as JSON.
//!
//! leptos' default resource codec reads that JSON with `serde_json::from_str`
//! while server functions read theirs with `serde_json::from_slice`; each is
//! a separate instantiation of every type's `Deserialize`, so every page's
//! data was deserialized by two copies of the same code in the wasm bundle.
//! [`Json`] reads with `from_slice` too, and [`data`] is `Resource::new`
//! with it.

use std::future::Future;

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON, read the way server functions read their answers.
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(val: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(val)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(val: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(val.as_bytes())
    }
}

/// A page's resource, sent from the server render to the browser as [`Json`].
pub type Data<T> = Resource<T, Json>;

/// `Resource::new` with the [`Json`] codec.
#[track_caller]
pub fn data<T, S, Fut>(source: impl Fn() -> S + Send + Sync + 'static, fetcher: impl Fn(S) -> Fut + Send + Sync + 'static) -> Data<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: PartialEq + Clone + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}
