//! OpenTelemetry traces over OTLP/HTTP (JSON), with the `otel` feature:
//! each request is a span (continuing the caller's W3C `traceparent`, so
//! a gateway's trace goes on into the service), its GraphQL operation a
//! span inside it, and each SQL statement a span inside that, with the
//! statement's text.
//!
//! On when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) names a collector; the other
//! standard `OTEL_*` variables apply (`OTEL_SERVICE_NAME`, default the
//! service's name; `OTEL_BSP_SCHEDULE_DELAY`; `OTEL_RESOURCE_ATTRIBUTES`).

use std::{sync::Arc, time::Duration};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{
    Resource,
    error::{OTelSdkError, OTelSdkResult},
    propagation::TraceContextPropagator,
    trace::{SdkTracerProvider, SpanData, SpanExporter},
};

/// Exports on the service's tokio runtime. The batch processor calls the
/// exporter from a thread of its own, where hyper (the HTTP client here)
/// would find no reactor.
#[derive(Debug)]
struct OnTokio {
    inner: Arc<opentelemetry_otlp::SpanExporter>,
    runtime: tokio::runtime::Handle,
}

impl SpanExporter for OnTokio {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let inner = Arc::clone(&self.inner);
        let task = self.runtime.spawn(async move { inner.export(batch).await });
        async move {
            task.await
                .unwrap_or_else(|e| Err(OTelSdkError::InternalFailure(e.to_string())))
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}

/// Exports what is left when dropped (at the end of the command).
#[derive(Debug)]
pub(crate) struct Traces {
    provider: SdkTracerProvider,
}

impl Drop for Traces {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("OpenTelemetry: the last spans were not exported: {e}");
        }
    }
}

/// The tracing layer that exports spans, when a collector is configured
/// and a tokio runtime is running.
pub(crate) fn layer<S>(service: &str) -> Option<(impl tracing_subscriber::Layer<S>, Traces)>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    if !configured {
        return None;
    }
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let client = opentelemetry_http::hyper::HyperClient::with_default_connector(
        Duration::from_secs(10),
        None,
    );
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_http_client(client)
        .build()
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("OpenTelemetry: no exporter ({e}); traces are off");
            return None;
        }
    };
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service.to_owned());
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(OnTokio {
            inner: Arc::new(exporter),
            runtime,
        })
        .with_resource(resource.build())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("graphloom"));
    Some((layer, Traces { provider }))
}
