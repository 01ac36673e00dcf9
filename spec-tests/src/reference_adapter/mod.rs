//! The reference behind the [`Implementation`] interface: the reference materializer,
//! validator, client and producer of `state-reference`. In process it is the oracle every
//! case is judged against; [`serve`] puts the very same object behind the adapter protocol
//! on stdin/stdout (`state-conformance reference-adapter [--mutant NAME]`), where the runner
//! drives it as a child process exactly like a foreign implementation.

pub(crate) mod serve;

pub use serve::{listen, serve};

use std::time::Duration;

use state_reference::client::{self, Live, Subscription, Until};
use state_reference::{Collection, Materializer, Message, Mutant, Observation};
use state_reference::{ParseRules, ProduceOp, Profile};

use crate::adapter::implementation::{Implementation, ValidateInput, Validated};
use crate::adapter::process::AdapterFault;
use crate::adapter::protocol::Awaited;
use crate::corpus::case::{BatchInput, RejectedItem};

/// The open case: its profile, its collections, its consumer and its subscription.
struct Session {
    profile: Profile,
    collections: Option<Vec<Collection>>,
    materializer: Materializer,
    subscription: Option<Subscription>,
}

/// The tokio runtime and HTTP client live commands use, made on the first one.
struct Net {
    /// Owned when this process serves the protocol; borrowed from the runner in process.
    _owned: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    http: reqwest::Client,
}

impl Net {
    /// On `shared` when given (the runner's runtime), else on a runtime of its own.
    fn new(shared: Option<tokio::runtime::Handle>) -> Result<Net, ReferenceError> {
        let (owned, handle) = match shared {
            Some(handle) => (None, handle),
            None => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .map_err(ReferenceError::Runtime)?;
                let handle = runtime.handle().clone();
                (Some(runtime), handle)
            }
        };
        let http = crate::runtime::http_client()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(ReferenceError::HttpClient)?;
        Ok(Net {
            _owned: owned,
            handle,
            http,
        })
    }
}

/// The reference (optionally a mutant of it) as an implementation under test.
pub struct Reference {
    mutant: Option<Mutant>,
    session: Option<Session>,
    /// In process: the runner's runtime; `None`: a runtime of its own, made when needed.
    shared_runtime: Option<tokio::runtime::Handle>,
    net: Option<Net>,
}

/// Why the reference could not carry out a command. Over the adapter boundary every one is a
/// refusal of that command ([`ReferenceError::refusing`]): the reference never hangs, exits or
/// breaks the protocol, so a refusal is the only fault it can have.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("no case is open")]
    NoCase,
    #[error("await needs a subscription")]
    NoSubscription,
    #[error("cannot start a runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot build an HTTP client: {0}")]
    HttpClient(reqwest::Error),
    /// The case's profile or collections do not make a consumer.
    #[error(transparent)]
    Setup(#[from] state_reference::materializer::SetupError),
    /// A produce operation does not make a message.
    #[error(transparent)]
    Op(#[from] state_reference::producer::OpError),
    /// The stream refused a write, or could not be reached.
    #[error("{0}")]
    Write(String),
}

impl ReferenceError {
    /// This error as the adapter fault of refusing `command`.
    pub fn refusing(self, command: &str) -> AdapterFault {
        AdapterFault::Refused {
            command: command.into(),
            error: self.to_string(),
        }
    }
}

impl Reference {
    /// The reference in the runner's process, on the runner's runtime.
    pub fn in_process(mutant: Option<Mutant>) -> Reference {
        Reference {
            mutant,
            session: None,
            shared_runtime: Some(crate::runtime::runtime().handle().clone()),
            net: None,
        }
    }

    /// The reference in a process of its own (the adapter server).
    fn standalone(mutant: Option<Mutant>) -> Reference {
        Reference {
            mutant,
            session: None,
            shared_runtime: None,
            net: None,
        }
    }

    /// The runtime and HTTP client, made on the first live command.
    fn net(&mut self) -> Result<&Net, ReferenceError> {
        let net = match self.net.take() {
            Some(net) => net,
            None => Net::new(self.shared_runtime.clone())?,
        };
        Ok(self.net.insert(net))
    }

    fn session(&mut self) -> Result<&mut Session, ReferenceError> {
        self.session.as_mut().ok_or(ReferenceError::NoCase)
    }
}

impl Reference {
    fn awaited(&mut self, until: &Until, timeout: Duration) -> Result<Awaited, ReferenceError> {
        let handle = self.net()?.handle.clone();
        let subscription =
            (self.session()?.subscription.as_mut()).ok_or(ReferenceError::NoSubscription)?;
        let (reached, progress) = handle.block_on(subscription.wait(until, timeout));
        Ok(Awaited { reached, progress })
    }

    fn produced(&mut self, url: &str, ops: &[ProduceOp]) -> Result<(), ReferenceError> {
        let collections = self.session()?.collections.clone();
        let messages =
            state_reference::producer::build_ops(collections.as_deref().unwrap_or_default(), ops)?;
        let net = self.net()?;
        (net.handle)
            .block_on(client::produce(&net.http, url, &messages))
            .map_err(ReferenceError::Write)
    }
}

impl Implementation for Reference {
    fn open(
        &mut self,
        _case: &str,
        profile: &Profile,
        collections: Option<&[Collection]>,
    ) -> Result<(), AdapterFault> {
        self.session = None; // stops a subscription still running
        let materializer = Materializer::consumer(profile, collections, self.mutant)
            .map_err(|e| ReferenceError::from(e).refusing("open"))?;
        self.session = Some(Session {
            profile: profile.clone(),
            collections: collections.map(<[Collection]>::to_vec),
            materializer,
            subscription: None,
        });
        Ok(())
    }

    fn apply(
        &mut self,
        index: usize,
        batch: &BatchInput,
    ) -> Result<Vec<RejectedItem>, AdapterFault> {
        let m = &mut self
            .session()
            .map_err(|e| e.refusing("apply"))?
            .materializer;
        let diagnostics = m.apply_batch(batch.to_batch());
        Ok(diagnostics
            .iter()
            .map(|d| RejectedItem {
                batch: index,
                index: d.index,
                requirement: d.requirement.to_owned(),
                reason: Some(format!(
                    "at {}: {}",
                    if d.path.is_empty() { "/" } else { &d.path },
                    d.reason
                )),
            })
            .collect())
    }

    fn state(&mut self) -> Result<Observation, AdapterFault> {
        Ok(self
            .session()
            .map_err(|e| e.refusing("state"))?
            .materializer
            .observe())
    }

    fn validate(&mut self, input: ValidateInput<'_>) -> Result<Validated, AdapterFault> {
        let profile = match &self.session {
            Some(s) => s.profile.clone(),
            None => Profile::default_profile(),
        };
        let rules = ParseRules::from_profile(&profile).with_mutant(self.mutant);
        let parsed = match input {
            ValidateInput::Raw(raw) => Message::parse_bytes(raw.as_bytes(), &rules),
            ValidateInput::Message(message) => Message::parse(message.clone(), &rules),
        };
        Ok(match parsed {
            Ok(_) => Validated {
                valid: true,
                requirement: None,
                reason: None,
            },
            Err(r) => Validated {
                valid: false,
                requirement: Some(r.requirement.to_owned()),
                reason: Some(r.to_string()),
            },
        })
    }

    fn subscribe(&mut self, url: &str, live: Live) -> Result<(), AdapterFault> {
        let mutant = self.mutant;
        let (handle, http) = {
            let net = self.net().map_err(|e| e.refusing("subscribe"))?;
            (net.handle.clone(), net.http.clone())
        };
        let session = self.session().map_err(|e| e.refusing("subscribe"))?;
        let (profile, collections) = (session.profile.clone(), session.collections.clone());
        let fresh = Box::new(move || {
            Materializer::consumer(&profile, collections.as_deref(), mutant)
                .unwrap_or_else(|_| Materializer::new(profile.clone()))
        });
        session.subscription = Some(Subscription::start(
            &handle,
            http,
            url.to_owned(),
            live,
            fresh,
            mutant,
        ));
        Ok(())
    }

    fn wait(&mut self, until: &Until, timeout: Duration) -> Result<Awaited, AdapterFault> {
        self.awaited(until, timeout)
            .map_err(|e| e.refusing("await"))
    }

    fn produce(&mut self, url: &str, ops: &[ProduceOp]) -> Result<(), AdapterFault> {
        self.produced(url, ops).map_err(|e| e.refusing("produce"))
    }
}
