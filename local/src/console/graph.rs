//! A state machine as a graph: its states (those of `Parallel` branches and `Map` iterations
//! included) and its transitions, read from the ASL document itself and laid out by
//! `layout-rs`. The layout is computed once per machine; an execution only colours it.
//!
//! `layout-rs` places the boxes and routes the edges (layers, crossing reduction, splines); we
//! only say what the boxes and edges are, and collect what it draws through a
//! [`RenderBackend`] of our own, so that the SVG can carry each state's name and status.

use std::fmt::Write as _;

use anyhow::{Context, bail};
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;
use serde_json::Value;

/// The font size the layout measures labels with: a character is this wide and a line this
/// tall. Our labels are drawn at about the same size in a proportional font, which is narrower.
const MEASURE_FONT: usize = 12;
/// How much narrower than the layout's estimate our font's average character is.
const NARROWING: f64 = 0.7;
/// A state's box holds three lines: its name, its type, and what the execution did there.
const BOX_HEIGHT: f64 = 62.;
/// The status line is written per execution, after layout: room for the longest one.
const STATUS_ROOM: usize = 20;
/// Room after the type for ` · retried 10×`, also written per execution.
const RETRIES_ROOM: usize = 15;

/// One state of the machine, wherever it is nested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateNode {
    /// Its name, as history events name it.
    pub name: String,
    /// Its ASL type: `Task`, `Choice`, `Parallel`, ...
    pub state_type: String,
    /// The `Parallel` or `Map` state it runs inside, if any, and which branch.
    pub inside: Option<String>,
}

/// What a transition is, so the graph can say it (and style it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeKind {
    /// `Next`.
    Next,
    /// A `Choice` rule (its position, from 1) or its `Default`.
    Choice(Option<usize>),
    /// A `Catch` for these errors.
    Catch(Vec<String>),
    /// Into a `Parallel` branch (from 1) or a `Map` iteration (`None`).
    Into(Option<usize>),
    /// Out of a branch or iteration, once every one is done, to what follows.
    Join,
}

/// A transition between two states, by their index in [`MachineGraph::states`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
}

impl Edge {
    /// The edge's label in the picture. Catchers are not labelled there: a label is a node to
    /// the layout, and the catchers of a saga, all leading to its compensation, would spread the
    /// graph wide; each catch arrow names its errors in its tooltip instead.
    fn label(&self) -> String {
        match &self.kind {
            EdgeKind::Next | EdgeKind::Join | EdgeKind::Catch(_) => String::new(),
            EdgeKind::Choice(Some(rule)) => format!("rule {rule}"),
            EdgeKind::Choice(None) => "default".to_owned(),
            EdgeKind::Into(Some(branch)) => format!("branch {branch}"),
            EdgeKind::Into(None) => "each item".to_owned(),
        }
    }

    /// What the edge means, in words, for its tooltip.
    pub fn describe(&self) -> String {
        match &self.kind {
            EdgeKind::Next => "next".to_owned(),
            EdgeKind::Join => "when every branch or item is done".to_owned(),
            EdgeKind::Catch(errors) => format!("catch {}", errors.join(", ")),
            _ => self.label(),
        }
    }

    /// Whether the edge is drawn dashed: the paths taken on errors and into nested states.
    pub fn dashed(&self) -> bool {
        !matches!(self.kind, EdgeKind::Next | EdgeKind::Choice(_))
    }
}

/// A box placed by the layout, in SVG user units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// An edge as routed by the layout: an SVG path and where its label goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Which [`Edge`] this is.
    pub edge: usize,
    /// The SVG path data.
    pub path: String,
}

/// A label the layout placed (beside an edge).
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub x: f64,
    pub y: f64,
    pub text: String,
}

/// A state machine's states and transitions, laid out.
#[derive(Debug, Clone)]
pub struct MachineGraph {
    pub states: Vec<StateNode>,
    pub edges: Vec<Edge>,
    /// Where each state's box is, by state index.
    pub boxes: Vec<Placed>,
    pub routes: Vec<Route>,
    pub labels: Vec<Label>,
    /// The drawing's extent: `(min_x, min_y, width, height)`.
    pub view_box: (f64, f64, f64, f64),
}

impl MachineGraph {
    /// The graph of the ASL document `source` (`${...}` placeholders may remain: only the
    /// structure is read), laid out.
    pub fn from_definition(source: &str) -> anyhow::Result<Self> {
        let definition: Value = serde_json::from_str(source).context("the state machine is not JSON")?;
        let mut reader = Reader::default();
        reader.body(&definition, None).context("cannot read the state machine's states")?;
        reader.resolve()?;
        let Reader { states, edges, .. } = reader;
        let layout = lay_out(&states, &edges)?;
        Ok(Self {
            states,
            edges,
            boxes: layout.boxes,
            routes: layout.routes,
            labels: layout.labels,
            view_box: layout.view_box,
        })
    }

    /// The index of the state named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|state| state.name == name)
    }

    /// Whether the machine has a transition from `from` to `to`.
    pub fn edge_between(&self, from: usize, to: usize) -> Option<usize> {
        self.edges.iter().position(|edge| edge.from == from && edge.to == to)
    }
}

/// Reads the states of a document, nested ones included, and the transitions between them.
#[derive(Default)]
struct Reader {
    states: Vec<StateNode>,
    edges: Vec<Edge>,
    /// Transitions by name, resolved to indices once every state is known.
    pending: Vec<(usize, String, EdgeKind)>,
}

impl Reader {
    /// Reads one set of states with a `StartAt`; returns the index of its start state and of
    /// the states that end it (those that `End`, and `Succeed` states).
    fn body(&mut self, body: &Value, inside: Option<&str>) -> anyhow::Result<(String, Vec<usize>)> {
        let start = body.get("StartAt").and_then(Value::as_str).context("a set of states has no StartAt")?;
        let states = body.get("States").and_then(Value::as_object).context("a set of states has no States")?;
        let mut ends = Vec::new();
        for (name, state) in states {
            let state_type =
                state.get("Type").and_then(Value::as_str).with_context(|| format!("{name} has no Type"))?;
            let index = self.states.len();
            self.states.push(StateNode {
                name: name.clone(),
                state_type: state_type.to_owned(),
                inside: inside.map(str::to_owned),
            });
            let ends_here = state.get("End").and_then(Value::as_bool) == Some(true) || state_type == "Succeed";
            if ends_here {
                ends.push(index);
            }
            let next = state.get("Next").and_then(Value::as_str);
            let mut nested_ends = Vec::new();
            match state_type {
                "Choice" => {
                    let rules = state.get("Choices").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                    for (position, rule) in rules.iter().enumerate() {
                        if let Some(target) = rule.get("Next").and_then(Value::as_str) {
                            self.pending.push((index, target.to_owned(), EdgeKind::Choice(Some(position + 1))));
                        }
                    }
                    if let Some(target) = state.get("Default").and_then(Value::as_str) {
                        self.pending.push((index, target.to_owned(), EdgeKind::Choice(None)));
                    }
                }
                "Parallel" => {
                    let branches =
                        state.get("Branches").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                    for (position, branch) in branches.iter().enumerate() {
                        let label = format!("{name}, branch {}", position + 1);
                        let (start, branch_ends) = self.body(branch, Some(&label))?;
                        self.pending.push((index, start, EdgeKind::Into(Some(position + 1))));
                        nested_ends.extend(branch_ends);
                    }
                }
                "Map" => {
                    let processor = state
                        .get("ItemProcessor")
                        .or_else(|| state.get("Iterator"))
                        .with_context(|| format!("the Map state {name} has no ItemProcessor"))?;
                    let (start, iteration_ends) = self.body(processor, Some(name))?;
                    self.pending.push((index, start, EdgeKind::Into(None)));
                    nested_ends.extend(iteration_ends);
                }
                _ => {}
            }
            if let Some(next) = next {
                // Once every branch or iteration is done, the state goes on: drawn from the
                // states that end them, so what follows sits below them.
                if nested_ends.is_empty() {
                    self.pending.push((index, next.to_owned(), EdgeKind::Next));
                } else {
                    for &end in &nested_ends {
                        self.pending.push((end, next.to_owned(), EdgeKind::Join));
                    }
                }
            }
            let catchers = state.get("Catch").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            for catcher in catchers {
                let errors = catcher
                    .get("ErrorEquals")
                    .and_then(Value::as_array)
                    .map(|errors| errors.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                    .unwrap_or_default();
                if let Some(target) = catcher.get("Next").and_then(Value::as_str) {
                    self.pending.push((index, target.to_owned(), EdgeKind::Catch(errors)));
                }
            }
        }
        Ok((start.to_owned(), ends))
    }

    /// Turns the transitions' target names into indices.
    fn resolve(&mut self) -> anyhow::Result<()> {
        for (from, target, kind) in std::mem::take(&mut self.pending) {
            let Some(to) = self.states.iter().position(|state| state.name == target) else {
                bail!("{} goes to {target}, which is not a state", self.states[from].name);
            };
            // Two catchers (or rules) to the same state are one arrow in the picture.
            if !self.edges.iter().any(|edge| edge.from == from && edge.to == to) {
                self.edges.push(Edge { from, to, kind });
            }
        }
        Ok(())
    }
}

/// The size the layout reserves for a state's box: room for its three lines.
fn box_size(state: &StateNode) -> Point {
    let widest = [state.name.chars().count(), type_line(state).chars().count() + RETRIES_ROOM, STATUS_ROOM]
        .into_iter()
        .max()
        .unwrap_or(STATUS_ROOM);
    #[allow(clippy::cast_precision_loss)]
    let width = (widest as f64) * NARROWING * MEASURE_FONT as f64 + 20.;
    Point::new(width.ceil(), BOX_HEIGHT)
}

/// The second line of a state's box: its type, and where it is nested.
pub fn type_line(state: &StateNode) -> String {
    match &state.inside {
        Some(parent) => format!("{} in {parent}", state.state_type),
        None => state.state_type.clone(),
    }
}

struct Layout {
    boxes: Vec<Placed>,
    routes: Vec<Route>,
    labels: Vec<Label>,
    view_box: (f64, f64, f64, f64),
}

/// Asks `layout-rs` where everything goes.
fn lay_out(states: &[StateNode], edges: &[Edge]) -> anyhow::Result<Layout> {
    let mut graph = VisualGraph::new(Orientation::TopToBottom);
    let look = StyleAttr::new(Color::fast("black"), 1, None, 6, MEASURE_FONT);
    let handles: Vec<_> = states
        .iter()
        .enumerate()
        .map(|(index, state)| {
            let shape = ShapeKind::new_box(&state.name);
            let element = Element::create_with_properties(
                shape,
                look.clone(),
                Orientation::LeftToRight,
                box_size(state),
                index.to_string(),
            );
            graph.add_node(element)
        })
        .collect();
    for (index, edge) in edges.iter().enumerate() {
        let style = if edge.dashed() { LineStyleKind::Dashed } else { LineStyleKind::Normal };
        let mut arrow = Arrow::new(LineEndKind::None, LineEndKind::Arrow, style, &edge.label(), &look, &None, &None);
        arrow.properties = Some(index.to_string());
        graph.add_edge(arrow, handles[edge.from], handles[edge.to]);
    }
    let mut canvas = Collector::default();
    graph.do_it(false, false, false, &mut canvas);

    let mut boxes = vec![None; states.len()];
    for (index, placed) in canvas.boxes {
        boxes[index] = Some(placed);
    }
    let boxes = boxes
        .into_iter()
        .enumerate()
        .map(|(index, placed)| placed.with_context(|| format!("the layout did not place {}", states[index].name)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (min, max) = canvas.extent;
    let margin = 8.;
    let view_box = (min.x - margin, min.y - margin, max.x - min.x + 2. * margin, max.y - min.y + 2. * margin);
    Ok(Layout { boxes, routes: canvas.routes, labels: canvas.labels, view_box })
}

/// Collects what the layout draws: state boxes (whose `properties` is the state's index),
/// edges (whose `properties` is the edge's index) and edge labels.
struct Collector {
    boxes: Vec<(usize, Placed)>,
    routes: Vec<Route>,
    labels: Vec<Label>,
    /// The box just drawn, whose own label comes next: we write state labels ourselves.
    skip_next_text: bool,
    extent: (Point, Point),
    grown: bool,
}

impl Default for Collector {
    fn default() -> Self {
        Self {
            boxes: Vec::new(),
            routes: Vec::new(),
            labels: Vec::new(),
            skip_next_text: false,
            extent: (Point::zero(), Point::zero()),
            grown: false,
        }
    }
}

impl Collector {
    fn grow(&mut self, at: Point, size: Point) {
        let (min, max) = &mut self.extent;
        if !self.grown {
            *min = at;
            *max = at.add(size);
            self.grown = true;
            return;
        }
        min.x = min.x.min(at.x);
        min.y = min.y.min(at.y);
        max.x = max.x.max(at.x + size.x);
        max.y = max.y.max(at.y + size.y);
    }
}

impl RenderBackend for Collector {
    fn draw_rect(&mut self, xy: Point, size: Point, _: &StyleAttr, properties: Option<String>, _: Option<ClipHandle>) {
        self.grow(xy, size);
        if let Some(index) = properties.and_then(|p| p.parse().ok()) {
            self.boxes.push((index, Placed { x: xy.x, y: xy.y, width: size.x, height: size.y }));
            self.skip_next_text = true;
        }
    }

    fn draw_line(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_circle(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_text(&mut self, xy: Point, text: &str, _: &StyleAttr) {
        if std::mem::take(&mut self.skip_next_text) || text.is_empty() {
            return;
        }
        // Room for the label in the drawing's extent, at about 8 units a character.
        let half_width = 4. * f64::from(u32::try_from(text.chars().count()).unwrap_or(u32::MAX));
        self.grow(Point::new(xy.x - half_width, xy.y - 8.), Point::new(2. * half_width, 16.));
        self.labels.push(Label { x: xy.x, y: xy.y, text: text.to_owned() });
    }

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        _: bool,
        _: (bool, bool),
        _: &StyleAttr,
        properties: Option<String>,
        _: &str,
    ) {
        let Some(edge) = properties.and_then(|p| p.parse().ok()) else { return };
        if path.len() < 2 {
            return;
        }
        for point in path {
            self.grow(point.0, Point::zero());
            self.grow(point.1, Point::zero());
        }
        // A cubic Bézier through the layout's points and control points, as its own SVG
        // backend draws it: `M p0 C c0, c1, p1` then `S c, p` for each further point.
        let mut d = format!(
            "M {:.1} {:.1} C {:.1} {:.1}, {:.1} {:.1}, {:.1} {:.1}",
            path[0].0.x, path[0].0.y, path[0].1.x, path[0].1.y, path[1].0.x, path[1].0.y, path[1].1.x, path[1].1.y
        );
        for point in &path[2..] {
            let _ = write!(d, " S {:.1} {:.1}, {:.1} {:.1}", point.0.x, point.0.y, point.1.x, point.1.y);
        }
        self.routes.push(Route { edge, path: d });
    }

    fn create_clip(&mut self, _: Point, _: Point, _: usize) -> ClipHandle {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORK: &str = r#"{"StartAt": "Fork", "States": {
        "Fork": {"Type": "Parallel", "Next": "Done", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}],
                 "Branches": [
                   {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "x", "End": true}}},
                   {"StartAt": "B", "States": {"B": {"Type": "Map", "End": true,
                      "ItemProcessor": {"StartAt": "C", "States": {"C": {"Type": "Pass", "End": true}}}}}}]},
        "Done": {"Type": "Succeed"},
        "Oops": {"Type": "Fail"}}}"#;

    #[test]
    fn nested_states_of_branches_and_iterations_are_states_of_the_graph() {
        let graph = MachineGraph::from_definition(FORK).unwrap();
        let names: Vec<_> = graph.states.iter().map(|s| s.name.as_str()).collect();
        for name in ["Fork", "A", "B", "C", "Done", "Oops"] {
            assert!(names.contains(&name), "{name} is missing from {names:?}");
        }
        let c = &graph.states[graph.index_of("C").unwrap()];
        assert_eq!(c.inside.as_deref(), Some("B"));
        assert_eq!(graph.boxes.len(), graph.states.len());
    }

    #[test]
    fn a_parallel_state_goes_on_from_the_ends_of_its_branches_and_catches_from_itself() {
        let graph = MachineGraph::from_definition(FORK).unwrap();
        let at = |name| graph.index_of(name).unwrap();
        assert_eq!(graph.edges[graph.edge_between(at("A"), at("Done")).unwrap()].kind, EdgeKind::Join);
        assert_eq!(graph.edges[graph.edge_between(at("Fork"), at("A")).unwrap()].kind, EdgeKind::Into(Some(1)));
        assert!(matches!(graph.edges[graph.edge_between(at("Fork"), at("Oops")).unwrap()].kind, EdgeKind::Catch(_)));
        assert_eq!(graph.edge_between(at("Fork"), at("Done")), None);
    }

    #[test]
    fn a_transition_to_no_state_is_an_error() {
        let error =
            MachineGraph::from_definition(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Z"}}}"#)
                .unwrap_err();
        assert!(format!("{error:#}").contains("Z, which is not a state"), "{error:#}");
    }
}
