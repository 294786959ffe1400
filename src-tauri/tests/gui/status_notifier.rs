//! The desktop's side of the tray, played over the session bus as a panel
//! does: a StatusNotifierWatcher (`org.kde.StatusNotifierWatcher`) that the
//! app's tray icon (libayatana-appindicator) registers its
//! StatusNotifierItem with, and a host that reads the item's properties and
//! reads and clicks its `com.canonical.dbusmenu` menu.
//!
//! The watcher must own its name before the app starts: appindicator looks
//! for it when the icon is created and falls back to an X11 tray icon
//! otherwise.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use zbus::fdo::{DBusProxy, PropertiesProxy};
use zbus::message::Header;
use zbus::names::{BusName, InterfaceName};
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedValue, Value};
use zbus::{Connection, interface};

const WATCHER_NAME: &str = "org.kde.StatusNotifierWatcher";
const WATCHER_PATH: &str = "/StatusNotifierWatcher";
const ITEM_INTERFACE: &str = "org.kde.StatusNotifierItem";
const MENU_INTERFACE: &str = "com.canonical.dbusmenu";

/// One registered StatusNotifierItem: the bus name that owns it and its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The unique (or well-known) bus name of the item's process.
    pub bus: String,
    /// The item's object path.
    pub path: String,
}

impl Item {
    /// The form the watcher lists it in: `bus/path`.
    fn service(&self) -> String {
        format!("{}{}", self.bus, self.path)
    }
}

/// The watcher's state: the items registered and still on the bus.
#[derive(Default)]
struct Registry {
    items: Mutex<Vec<Item>>,
    changed: tokio::sync::Notify,
}

struct Watcher(Arc<Registry>);

#[interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    /// `service` is a bus name (the item at `/StatusNotifierItem`) or an
    /// object path (the item on the caller's connection).
    async fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] header: Header<'_>,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> zbus::fdo::Result<()> {
        let item = if service.starts_with('/') {
            let sender = header
                .sender()
                .ok_or_else(|| zbus::fdo::Error::InvalidArgs("no sender".into()))?;
            Item {
                bus: sender.to_string(),
                path: service.to_string(),
            }
        } else {
            Item {
                bus: service.to_string(),
                path: "/StatusNotifierItem".to_string(),
            }
        };
        {
            let mut items = self.0.items.lock().expect("registry");
            if !items.contains(&item) {
                items.push(item.clone());
            }
        }
        self.0.changed.notify_waiters();
        Self::status_notifier_item_registered(&emitter, &item.service()).await?;
        self.registered_status_notifier_items_changed(&emitter)
            .await?;
        Ok(())
    }

    /// Hosts register here; this watcher always counts itself as one.
    async fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    async fn registered_status_notifier_items(&self) -> Vec<String> {
        let items = self.0.items.lock().expect("registry");
        items.iter().map(Item::service).collect()
    }

    #[zbus(property)]
    async fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    async fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(signal)]
    async fn status_notifier_item_registered(
        emitter: &SignalEmitter<'_>,
        service: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn status_notifier_item_unregistered(
        emitter: &SignalEmitter<'_>,
        service: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn status_notifier_host_registered(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn status_notifier_host_unregistered(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;
}

/// The item's properties a panel draws it from.
#[derive(Debug, Clone)]
pub struct ItemState {
    /// `Passive`, `Active` or `NeedsAttention`.
    pub status: String,
    /// A themed icon name, or a file path.
    pub icon_name: String,
    /// Where to look the icon name up first.
    pub icon_theme_path: String,
    /// The item's title.
    pub title: String,
    /// The tooltip's title and text, where the item has a tooltip.
    pub tooltip: Option<(String, String)>,
    /// The path of the item's `com.canonical.dbusmenu` menu.
    pub menu: String,
}

/// One line of the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuEntry {
    /// The dbusmenu id to click it by.
    pub id: i32,
    /// Its text (`---` for a separator).
    pub label: String,
    /// Whether it can be clicked.
    pub enabled: bool,
}

/// A watcher and host on the session bus.
pub struct Tray {
    bus: Connection,
    registry: Arc<Registry>,
    forget: tokio::task::JoinHandle<()>,
}

impl Tray {
    /// Owns `org.kde.StatusNotifierWatcher` on the session bus; call it
    /// before the app starts.
    pub async fn watch() -> Tray {
        let registry = Arc::new(Registry::default());
        let bus = zbus::connection::Builder::session()
            .expect("a session bus (run under scripts/desktop-session.sh)")
            .serve_at(WATCHER_PATH, Watcher(Arc::clone(&registry)))
            .expect("the watcher object")
            .name(WATCHER_NAME)
            .expect("the watcher name")
            .build()
            .await
            .expect("the watcher owns its name on the session bus");
        let forget = tokio::spawn(forget_items_that_leave(bus.clone(), Arc::clone(&registry)));
        Tray {
            bus,
            registry,
            forget,
        }
    }

    /// Waits for the one item registered with the watcher.
    pub async fn item(&self, timeout: Duration) -> Item {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.registry.changed.notified();
            {
                let items = self.registry.items.lock().expect("registry");
                match items.as_slice() {
                    [] => {}
                    [item] => return item.clone(),
                    more => panic!("more than one tray item registered: {more:?}"),
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("no tray item registered with the StatusNotifierWatcher within {timeout:?}");
            }
        }
    }

    /// The items the watcher lists, as another host reads them over the bus.
    pub async fn registered(&self) -> Vec<String> {
        let watcher = PropertiesProxy::builder(&self.bus)
            .destination(WATCHER_NAME)
            .and_then(|b| b.path(WATCHER_PATH))
            .expect("watcher address")
            .build()
            .await
            .expect("watcher proxy");
        let value = watcher
            .get(
                InterfaceName::from_static_str_unchecked(WATCHER_NAME),
                "RegisteredStatusNotifierItems",
            )
            .await
            .expect("RegisteredStatusNotifierItems");
        Vec::<String>::try_from(value).expect("a list of strings")
    }

    /// Reads the item's properties.
    pub async fn state(&self, item: &Item) -> ItemState {
        let properties = PropertiesProxy::builder(&self.bus)
            .destination(item.bus.as_str())
            .and_then(|b| b.path(item.path.as_str()))
            .expect("item address")
            .build()
            .await
            .expect("item proxy");
        let mut all: HashMap<String, OwnedValue> = properties
            .get_all(InterfaceName::from_static_str_unchecked(ITEM_INTERFACE))
            .await
            .expect("the item's properties");
        let mut text = |name: &str| -> String {
            all.remove(name)
                .map(|v| {
                    let v: Value<'_> = v.into();
                    match v {
                        Value::Str(s) => s.to_string(),
                        Value::ObjectPath(p) => p.to_string(),
                        other => panic!("{name} is not text: {other:?}"),
                    }
                })
                .unwrap_or_default()
        };
        let (status, icon_name, icon_theme_path, title, menu) = (
            text("Status"),
            text("IconName"),
            text("IconThemePath"),
            text("Title"),
            text("Menu"),
        );
        type ToolTip = (String, Vec<(i32, i32, Vec<u8>)>, String, String);
        let tooltip = all.remove("ToolTip").map(|v| {
            let (_, _, title, text) = ToolTip::try_from(v).expect("a (sa(iiay)ss) tooltip");
            (title, text)
        });
        ItemState {
            status,
            icon_name,
            icon_theme_path,
            title,
            tooltip,
            menu,
        }
    }

    /// Reads the item's menu (its top level), as a panel does before showing it.
    pub async fn menu(&self, item: &Item) -> Vec<MenuEntry> {
        let menu = self.state(item).await.menu;
        assert!(!menu.is_empty(), "the tray item exports no menu");
        let reply = self
            .bus
            .call_method(
                Some(item.bus.as_str()),
                menu.as_str(),
                Some(MENU_INTERFACE),
                "GetLayout",
                &(0i32, 1i32, Vec::<String>::new()),
            )
            .await
            .expect("GetLayout answers");
        type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);
        let (_revision, (_root, _props, children)): (u32, Layout) =
            reply.body().deserialize().expect("a dbusmenu layout");
        children.iter().map(|child| entry(child)).collect()
    }

    /// Clicks the menu line that reads `label`.
    pub async fn click(&self, item: &Item, label: &str) {
        let entries = self.menu(item).await;
        let entry = entries
            .iter()
            .find(|e| e.label == label)
            .unwrap_or_else(|| panic!("no menu line {label:?} in {entries:?}"));
        assert!(entry.enabled, "the menu line {label:?} is disabled");
        let menu = self.state(item).await.menu;
        self.bus
            .call_method(
                Some(item.bus.as_str()),
                menu.as_str(),
                Some(MENU_INTERFACE),
                "Event",
                &(entry.id, "clicked", Value::from(0i32), 0u32),
            )
            .await
            .unwrap_or_else(|e| panic!("clicking {label:?}: {e}"));
    }

    /// The process id behind the item's bus name.
    pub async fn pid(&self, item: &Item) -> u32 {
        let dbus = DBusProxy::new(&self.bus).await.expect("the bus daemon");
        let name = BusName::try_from(item.bus.as_str()).expect("a bus name");
        dbus.get_connection_unix_process_id(name)
            .await
            .expect("the item's process id")
    }

    /// Whether anything still owns `name` on the bus.
    pub async fn on_bus(&self, name: &str) -> bool {
        let dbus = DBusProxy::new(&self.bus).await.expect("the bus daemon");
        let name = BusName::try_from(name).expect("a bus name");
        dbus.name_has_owner(name).await.expect("NameHasOwner")
    }

    /// Releases the watcher's name.
    pub async fn stop(self) {
        self.forget.abort();
        let _ = self.bus.release_name(WATCHER_NAME).await;
    }
}

/// Forgets (and announces) every item whose bus name leaves the bus, as the
/// specification asks of the watcher.
async fn forget_items_that_leave(bus: Connection, registry: Arc<Registry>) {
    use futures_util::StreamExt as _;
    let Ok(dbus) = DBusProxy::new(&bus).await else {
        return;
    };
    let Ok(mut changes) = dbus.receive_name_owner_changed().await else {
        return;
    };
    while let Some(change) = changes.next().await {
        let Ok(args) = change.args() else { continue };
        if args.new_owner().is_some() {
            continue;
        }
        let gone: Vec<Item> = {
            let mut items = registry.items.lock().expect("registry");
            let (gone, kept) = items.drain(..).partition(|i| i.bus == args.name().as_str());
            *items = kept;
            gone
        };
        for item in gone {
            if let Ok(emitter) = SignalEmitter::new(&bus, WATCHER_PATH) {
                let _ = Watcher::status_notifier_item_unregistered(&emitter, &item.service()).await;
            }
        }
        registry.changed.notify_waiters();
    }
}

/// One top-level dbusmenu item: `(ia{sv}av)`, as the child variant holds it.
fn entry(child: &Value<'_>) -> MenuEntry {
    let child = match child {
        Value::Value(inner) => inner.as_ref(),
        other => other,
    };
    let Value::Structure(fields) = child else {
        panic!("a dbusmenu item is a structure: {child:?}");
    };
    let [Value::I32(id), Value::Dict(props), ..] = fields.fields() else {
        panic!("a dbusmenu item is (ia{{sv}}av): {child:?}");
    };
    let prop = |key: &str| -> Option<Value<'_>> {
        props
            .iter()
            .find(|(k, _)| matches!(k, Value::Str(s) if s.as_str() == key))
            .map(|(_, v)| match v {
                Value::Value(inner) => inner.as_ref().try_clone().expect("a value"),
                other => other.try_clone().expect("a value"),
            })
    };
    let separator = matches!(prop("type"), Some(Value::Str(s)) if s.as_str() == "separator");
    let label = match prop("label") {
        Some(Value::Str(s)) => s.to_string(),
        _ if separator => "---".to_string(),
        other => panic!("menu item {id} has no label: {other:?}"),
    };
    MenuEntry {
        id: *id,
        label,
        enabled: !matches!(prop("enabled"), Some(Value::Bool(false))) && !separator,
    }
}
