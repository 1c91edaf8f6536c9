//! `BlobStore` on S3: documents in one bucket, and presigned GET links that expire.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use orderflow_domain::ports::{BlobError, BlobStore};

/// A bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

fn failed(error: impl Into<orderflow_domain::ports::BoxError>) -> BlobError {
    BlobError(error.into())
}

impl S3BlobStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(failed)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(object) => Ok(Some(object.body.collect().await.map_err(failed)?.into_bytes().to_vec())),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(aws_sdk_s3::operation::get_object::GetObjectError::is_no_such_key) =>
            {
                Ok(None)
            }
            Err(error) => Err(failed(error)),
        }
    }

    /// A presigned GET of `key` that works for `ttl` (at most seven days, as S3 allows).
    async fn link(&self, key: &str, ttl: Duration) -> Result<String, BlobError> {
        let config = PresigningConfig::expires_in(ttl).map_err(failed)?;
        let request = self.client.get_object().bucket(&self.bucket).key(key).presigned(config).await.map_err(failed)?;
        Ok(request.uri().to_owned())
    }
}
