//! Object I/O shared by the writer and the reader: the clients, the codec and
//! the node view, bundled once per gateway.

use std::sync::Arc;

use metadata::client::MetadataClient;
use storage_node::client::StorageClient;
use storage_node::codec::Codec;

use crate::config::GatewayConfig;
use crate::layout::StripeGeometry;
use crate::topology::Topology;

pub struct ObjectIo {
    pub meta: MetadataClient,
    pub storage: StorageClient,
    pub topology: Arc<Topology>,
    pub codec: Codec,
    pub geometry: StripeGeometry,
    pub config: GatewayConfig,
}
