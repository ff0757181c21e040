//! Typed ids: a user id cannot be passed where a session id is expected. All are strings on the
//! wire and in MongoDB (UUID v7 for new ones, so their order is creation order).

use paperclip::v2::models::DataType;
use paperclip::v2::schema::TypedData;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                $name(uuid::Uuid::now_v7().to_string())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TypedData for $name {
            fn data_type() -> DataType {
                DataType::String
            }
        }
    };
}

string_id!(
    /// An account.
    UserId
);
string_id!(
    /// A login session (refresh-token family); the `sid` of its access tokens.
    SessionId
);
string_id!(
    /// One access token (`jti`).
    TokenId
);
string_id!(
    /// One published domain event (`messageId`), also its outbox id.
    MessageId
);
