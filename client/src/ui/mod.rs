//! `aman ui`: the local web interface (being built).

use crate::context::Ctx;
use crate::error::ClientError;
use std::net::SocketAddr;

/// Serves the interface on `listen` until interrupted.
pub async fn run(_ctx: &Ctx, _listen: SocketAddr, _open: bool) -> Result<(), ClientError> {
    Err(ClientError::State("not built yet".into()))
}
