//! Client behaviour against real loopback servers (axum on 127.0.0.1:0, started per test).

mod support;

mod auth_iam;
mod auth_lxca;
mod auth_zstack;
mod requests;
mod retries;
mod tls;
mod uploads;
