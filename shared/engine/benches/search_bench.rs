//! Search figures on a generated corpus (not a test; `scripts/bench_search.sh` runs it):
//!
//!   search_bench DIR [DOCS] [DIM] [QUERIES]        defaults 1000000 384 200
//!
//! Generates DOCS documents (seeded, reproducible): a vector of DIM dimensions drawn around
//! one of 1,000 random cluster centres (so neighbours are meaningful, as with real
//! embeddings) and a 12-word text from a 5,000-word vocabulary with a Zipf-like frequency.
//! Loads them through the loader (streamed, no JSONL file), then measures:
//! - index build: `@index` added by schema apply on the text (full-text) and then on the
//!   vector (IVF_SQ, cosine), each timed alone;
//! - k=10 nearest neighbours through the query language (`order { nearest(...) } limit 10`),
//!   latency median and p99 over QUERIES queries, and recall@10 against an exact brute-force
//!   search over the same vectors;
//! - full-text: `order { bm25(...) } limit 10` and `search(...)` + bm25 order, latency.

use std::io::{BufReader, Read};
use std::time::{Duration, Instant};

use omnigraph_engine::{ApplyOptions, Graph, LoadMode, QueryBudget, QueryText, ReadAt, MAIN};
use serde_json::{json, Map, Value};

const SCHEMA: &str =
    "node Doc {\n    slug: String @key\n    body: String\n    embedding: Vector(DIM)\n}\n";

/// splitmix64: a small seeded generator, so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f32 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
}

fn word(i: usize) -> String {
    const SYL: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pe", "da", "gu", "ri", "so", "ze", "ha",
        "bu",
    ];
    format!(
        "{}{}{}",
        SYL[i % 16],
        SYL[(i / 16) % 16],
        SYL[(i / 256) % 16]
    )
}

/// Zipf-like word index in 0..5000.
fn zipf(rng: &mut Rng) -> usize {
    let x = rng.unit();
    ((5000f64.powf(x) - 1.0) as usize).min(4999)
}

struct Corpus {
    dim: usize,
    vectors: Vec<f32>,
    texts: Vec<String>,
}

fn corpus(docs: usize, dim: usize) -> Corpus {
    let mut rng = Rng(42);
    let centres: Vec<f32> = (0..1000 * dim).map(|_| rng.gauss()).collect();
    let mut vectors = Vec::with_capacity(docs * dim);
    let mut texts = Vec::with_capacity(docs);
    for _ in 0..docs {
        let c = (rng.next() % 1000) as usize;
        for j in 0..dim {
            vectors.push(centres[c * dim + j] + 0.35 * rng.gauss());
        }
        let words: Vec<String> = (0..12).map(|_| word(zipf(&mut rng))).collect();
        texts.push(words.join(" "));
    }
    Corpus {
        dim,
        vectors,
        texts,
    }
}

/// The corpus as JSONL, produced while the loader reads it.
struct Lines<'c> {
    corpus: &'c Corpus,
    next: usize,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for Lines<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.next == self.corpus.texts.len() {
                return Ok(0);
            }
            let i = self.next;
            self.next += 1;
            let v = &self.corpus.vectors[i * self.corpus.dim..(i + 1) * self.corpus.dim];
            let v: Vec<String> = v.iter().map(|x| format!("{x:.4}")).collect();
            self.buf = format!(
                "{{\"type\":\"Doc\",\"data\":{{\"slug\":\"d{i:07}\",\"body\":\"{}\",\"embedding\":[{}]}}}}\n",
                self.corpus.texts[i],
                v.join(",")
            )
            .into_bytes();
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn read(graph: &std::sync::Arc<Graph>, text: &str, params: Value) -> Vec<Map<String, Value>> {
    let Value::Object(params) = params else {
        unreachable!()
    };
    let at = ReadAt::Branch {
        branch: MAIN,
        version: None,
    };
    let budget = QueryBudget::unlimited();
    match omnigraph_engine::read(graph, at, QueryText::new(text, None), &params, &budget).await {
        Ok(answer) => answer.result.rows,
        Err(e) => panic!("{e}"),
    }
}

/// The exact top 10 by cosine distance (the stored vectors are rounded to 4 decimals, as
/// loaded).
fn exact_top10(c: &Corpus, q: &[f32]) -> Vec<usize> {
    let qn: f32 = q.iter().map(|x| x * x).sum::<f32>().sqrt();
    let mut best: Vec<(f32, usize)> = Vec::with_capacity(11);
    for i in 0..c.texts.len() {
        let v = &c.vectors[i * c.dim..(i + 1) * c.dim];
        let (mut dot, mut n) = (0f32, 0f32);
        for (a, b) in v.iter().zip(q) {
            let a = (a * 10000.0).round() / 10000.0;
            dot += a * b;
            n += a * a;
        }
        let d = 1.0 - dot / (n.sqrt() * qn);
        if best.len() < 10 || d < best[best.len() - 1].0 {
            best.push((d, i));
            best.sort_by(|x, y| x.0.total_cmp(&y.0));
            best.truncate(10);
        }
    }
    best.into_iter().map(|(_, i)| i).collect()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .ok_or("usage: search_bench DIR [DOCS] [DIM] [QUERIES]")?;
    let arg = |i: usize, default: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(args
            .get(i)
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let (docs, dim, queries) = (arg(2, 1_000_000)?, arg(3, 384)?, arg(4, 200)?);
    let store = format!("{dir}/search.omni");
    let schema = SCHEMA.replace("DIM", &dim.to_string());

    let t = Instant::now();
    let c = corpus(docs, dim);
    println!(
        "corpus: {docs} docs x {dim} dims generated in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let graph = Graph::init(&store, &schema, "bench").await?;
    let t = Instant::now();
    let lines = BufReader::with_capacity(
        1 << 20,
        Lines {
            corpus: &c,
            next: 0,
            buf: vec![],
            pos: 0,
        },
    );
    omnigraph_engine::load(&graph, lines, LoadMode::Overwrite, "bench").await?;
    println!("load (key index only): {:.1} s", t.elapsed().as_secs_f64());

    let with_fts = schema.replace("body: String", "body: String @index");
    let t = Instant::now();
    graph
        .apply_schema(MAIN, &with_fts, ApplyOptions::default(), "bench")
        .await?;
    println!(
        "index build, full-text on body: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let with_vec = with_fts.replace(&format!("Vector({dim})"), &format!("Vector({dim}) @index"));
    let t = Instant::now();
    graph
        .apply_schema(MAIN, &with_vec, ApplyOptions::default(), "bench")
        .await?;
    println!(
        "index build, IVF_SQ on embedding: {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // k-NN: each query is a stored doc's vector plus noise.
    let knn = "query knn($v: Vector(DIM)) { match { $d: Doc } return { $d.slug } order { nearest($d.embedding, $v) } limit 10 }".replace("DIM", &dim.to_string());
    let mut rng = Rng(7);
    let mut lat = vec![];
    let mut recall = 0.0;
    // One warm-up query opens the index.
    let first: Vec<f32> = c.vectors[..dim].to_vec();
    let t = Instant::now();
    read(&graph, &knn, json!({"v": first})).await;
    println!(
        "first k-NN query (opens the index): {:.1} ms",
        ms(t.elapsed())
    );
    for _ in 0..queries {
        let i = (rng.next() % docs as u64) as usize;
        let q: Vec<f32> = c.vectors[i * dim..(i + 1) * dim]
            .iter()
            .map(|x| x + 0.2 * rng.gauss())
            .collect();
        let t = Instant::now();
        let rows = read(&graph, &knn, json!({"v": q})).await;
        lat.push(ms(t.elapsed()));
        let got: Vec<usize> = rows
            .iter()
            .filter_map(|r| r["d.slug"].as_str()?.trim_start_matches('d').parse().ok())
            .collect();
        let exact = exact_top10(&c, &q);
        recall += exact.iter().filter(|e| got.contains(e)).count() as f64 / 10.0;
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "k=10 nearest ({queries} queries): median {:.1} ms, p99 {:.1} ms, recall@10 {:.3}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        recall / queries as f64
    );

    // Full text: two words, one frequent and one rarer.
    for (label, text) in [
        ("bm25 top 10", "query f($q: String) { match { $d: Doc } return { $d.slug } order { bm25($d.body, $q) } limit 10 }"),
        ("search + bm25 top 10", "query f($q: String) { match { $d: Doc search($d.body, $q) } return { $d.slug } order { bm25($d.body, $q) } limit 10 }"),
    ] {
        let mut lat = vec![];
        let mut hits = 0usize;
        for k in 0..queries.min(100) {
            let q = format!("{} {}", word(k % 20), word(100 + (k * 37) % 2000));
            let t = Instant::now();
            hits += read(&graph, text, json!({"q": q})).await.len();
            lat.push(ms(t.elapsed()));
        }
        lat.sort_by(f64::total_cmp);
        println!(
            "full-text {label} ({} queries, {hits} rows): median {:.1} ms, p99 {:.1} ms",
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    }
    Ok(())
}
