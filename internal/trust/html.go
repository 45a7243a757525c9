package trust

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
)

// HTMLOptions tune WriteHTML.
type HTMLOptions struct {
	Title      string // shown in the heading (e.g. the provider's name)
	IncludeJIT bool   // count just-in-time edges as activated
	// MaxNodes bounds the view (default 3000): above it, only tenants, the
	// outsider and the nodes with the widest blast radius are drawn.
	MaxNodes int
	// Fragment writes only the view (a <div> with its style and script), for
	// embedding in a dashboard page, instead of a whole document.
	Fragment bool
}

type htmlNode struct {
	ID    string   `json:"id"`
	Kind  string   `json:"k"`
	Sub   string   `json:"s,omitempty"`
	Name  string   `json:"n,omitempty"`
	MFA   string   `json:"m,omitempty"`
	Exp   bool     `json:"x,omitempty"`
	KEV   []string `json:"v,omitempty"`
	Admin int32    `json:"ta"`
	Any   int32    `json:"tn"`
	Full  int32    `json:"tf"`
	Pos   string   `json:"p,omitempty"`
}

type htmlData struct {
	Title   string     `json:"title"`
	Tenants int        `json:"tenants"`
	Limit   int        `json:"limit"`
	JIT     bool       `json:"jit"`
	Nodes   []htmlNode `json:"nodes"`
	// Edges: [from, to, privilege 1..4, kind, jit 0/1, id, why]
	Edges     [][]any `json:"edges"`
	Truncated int     `json:"truncated"`
}

// WriteHTML writes a self-contained interactive view of the graph: no
// external assets, nodes coloured by kind in layers (outsider, vendors,
// identities, groups, tools, assets, tenants), and a click (or Enter, or the
// node list) on a node highlights every node it reaches, coloured by the best
// privilege, with the proof paths and a list of the tenants it takes.
func WriteHTML(w io.Writer, g *Graph, o HTMLOptions) error {
	if o.MaxNodes <= 0 {
		o.MaxNodes = 3000
	}
	q := Query{IncludeJIT: o.IncludeJIT}
	rk := g.RankingWith(q)
	d := htmlData{Title: o.Title, Tenants: len(g.tenants), Limit: Limit(len(g.tenants), g.MaxTenantShare), JIT: o.IncludeJIT}
	keep := make([]int32, len(g.Nodes))
	for i := range keep {
		keep[i] = -1
	}
	add := func(i int32) {
		if keep[i] >= 0 {
			return
		}
		keep[i] = int32(len(d.Nodes))
		n := &g.Nodes[i]
		r := rk.Of(i)
		d.Nodes = append(d.Nodes, htmlNode{ID: n.ID, Kind: n.Kind.String(), Sub: n.Sub, Name: n.Name, MFA: string(n.MFA), Exp: n.Exposed,
			KEV: n.KEV, Admin: r.Tenants[Admin], Any: r.Tenants[Read], Full: r.Tenants[Full], Pos: n.Pos.String()})
	}
	add(0)
	for _, t := range g.tenants {
		add(t)
	}
	if len(g.Nodes) <= o.MaxNodes {
		for i := range g.Nodes {
			add(int32(i))
		}
	} else {
		for _, r := range rk.Ranks {
			if len(d.Nodes) >= o.MaxNodes {
				break
			}
			add(r.Node)
		}
		d.Truncated = len(g.Nodes) - len(d.Nodes)
	}
	eff := g.effective(o.IncludeJIT)
	for s, e := range g.adj.edge {
		ed := &g.Edges[e]
		if eff[s] == None || keep[ed.From] < 0 || keep[ed.To] < 0 {
			continue
		}
		jit := 0
		if ed.JIT {
			jit = 1
		}
		d.Edges = append(d.Edges, []any{keep[ed.From], keep[ed.To], int(eff[s]), ed.Kind.String(), jit, g.EdgeID(e), ed.Why})
	}
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	title := "Trust graph"
	if o.Title != "" {
		title += " — " + o.Title
	}
	var colors strings.Builder
	for k, c := range kindColor {
		fmt.Fprintf(&colors, ".fb-k-%s{fill:%s}", k, c)
	}
	ew := &errWriter{w: w}
	if !o.Fragment {
		ew.printf("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>%s</title></head><body>\n", html.EscapeString(title))
	}
	ew.printf("<div class=\"fb-trust\" id=\"fb-trust\">\n<style>%s%s</style>\n", htmlCSS, colors.String())
	ew.printf("<h1>%s</h1>\n", html.EscapeString(title))
	ew.printf("%s", htmlBody)
	ew.printf("<script type=\"application/json\" id=\"fb-trust-data\">%s</script>\n<script>%s</script>\n</div>\n", data, htmlJS)
	if !o.Fragment {
		ew.printf("</body></html>\n")
	}
	return ew.err
}

const htmlCSS = `
.fb-trust{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:0 1em}
.fb-trust h1{font-size:1.3em;margin:.5em 0}
.fb-trust .fb-bar{display:flex;flex-wrap:wrap;gap:.6em;align-items:center;margin-bottom:.4em}
.fb-trust .fb-main{display:flex;gap:1em;align-items:flex-start}
.fb-trust .fb-canvas{flex:1 1 auto;overflow:auto;border:1px solid #ccc;max-height:80vh;background:#fff}
.fb-trust .fb-side{flex:0 0 26em;max-height:80vh;overflow:auto;font-size:13px}
.fb-trust .fb-side table{border-collapse:collapse;width:100%}
.fb-trust .fb-side td,.fb-trust .fb-side th{text-align:left;padding:2px 4px;border-bottom:1px solid #eee;vertical-align:top}
.fb-trust .fb-path{font-family:ui-monospace,monospace;font-size:11px;color:#555;word-break:break-word}
.fb-trust svg text{font-size:10px;fill:#222;pointer-events:none}
.fb-trust .fb-n{cursor:pointer}
.fb-trust .fb-n:focus{outline:none}
.fb-trust .fb-n:focus circle,.fb-trust .fb-n.fb-sel circle{stroke:#000;stroke-width:3}
.fb-trust .fb-e{stroke:#ccc;stroke-width:.6;fill:none}
.fb-trust.fb-active .fb-n{opacity:.18}
.fb-trust.fb-active .fb-n.fb-r,.fb-trust.fb-active .fb-n.fb-sel{opacity:1}
.fb-trust.fb-active .fb-e{opacity:.06}
.fb-trust.fb-active .fb-e.fb-p{opacity:1;stroke-width:2}
.fb-trust .fb-legend span{display:inline-block;margin-right:.8em}
.fb-trust .fb-sw{display:inline-block;width:.9em;height:.9em;border-radius:50%;vertical-align:middle;margin-right:.2em}
.fb-trust .fb-p1{stroke:#7fb3d5}.fb-trust .fb-p2{stroke:#f5b041}.fb-trust .fb-p3{stroke:#e67e22}.fb-trust .fb-p4{stroke:#c0392b}
.fb-trust .fb-r1 circle{stroke:#7fb3d5;stroke-width:3}.fb-trust .fb-r2 circle{stroke:#f5b041;stroke-width:3}
.fb-trust .fb-r3 circle{stroke:#e67e22;stroke-width:3}.fb-trust .fb-r4 circle{stroke:#c0392b;stroke-width:3}
`

const htmlBody = `<div class="fb-bar">
<label for="fb-pick">Compromise:</label>
<select id="fb-pick"><option value="">(choose a node — widest blast radius first)</option></select>
<button type="button" id="fb-clear">Clear</button>
<span id="fb-summary" role="status" aria-live="polite"></span>
</div>
<div class="fb-legend" id="fb-legend" aria-hidden="true"></div>
<div class="fb-main">
<div class="fb-canvas"><svg id="fb-svg" role="group" aria-label="Trust graph: columns are outsider, vendors, identities, groups, tools, assets and tenants; select a node to see what its compromise reaches"></svg></div>
<div class="fb-side" id="fb-side"><p>Select a node (click, Tab then Enter, or the list above) to see every tenant its compromise reaches, at which privilege, with the shortest proof path. Edges: who can control whom; the weakest privilege along a path bounds it.</p></div>
</div>
`

const htmlJS = `(function(){
"use strict";
var root=document.getElementById("fb-trust");
var D=JSON.parse(document.getElementById("fb-trust-data").textContent);
var N=D.nodes,E=D.edges,PN=["none","read","operate","admin","full_control"];
var PC=["#bbb","#7fb3d5","#f5b041","#e67e22","#c0392b"];
var order=["outsider","vendor","identity","group","tool","asset","provider","tenant"];
var KC={outsider:"#d62728",identity:"#1f77b4",group:"#9467bd",tool:"#ff7f0e",tenant:"#2ca02c",asset:"#8c8c8c",vendor:"#8c564b",provider:"#17becf"};
var out=N.map(function(){return []});
E.forEach(function(e,i){out[e[0]].push(i)});
var SVGNS="http://www.w3.org/2000/svg";
function el(n,a){var x=document.createElementNS(SVGNS,n);for(var k in a)x.setAttribute(k,a[k]);return x}
// Layered layout: one column per kind, wrapped every ROWS nodes.
var ROWS=45,DY=16,COLW=170,SUBW=120,x=20,pos=new Array(N.length),maxY=0;
order.forEach(function(k){
  var ids=[];N.forEach(function(n,i){if(n.k===k)ids.push(i)});
  if(!ids.length)return;
  ids.sort(function(a,b){return k==="tenant"?(N[a].id<N[b].id?-1:1):(N[b].ta-N[a].ta)||(N[b].tn-N[a].tn)||(N[a].id<N[b].id?-1:1)});
  var sub=Math.ceil(ids.length/ROWS);
  ids.forEach(function(i,j){var c=Math.floor(j/ROWS),r=j%ROWS;pos[i]=[x+c*SUBW,30+r*DY];maxY=Math.max(maxY,30+r*DY)});
  x+=(sub-1)*SUBW+COLW;
});
var svg=document.getElementById("fb-svg");
svg.setAttribute("width",x+40);svg.setAttribute("height",maxY+40);
var eg=el("g",{}),ng=el("g",{});svg.appendChild(eg);svg.appendChild(ng);
var epaths=E.map(function(e){var a=pos[e[0]],b=pos[e[1]],mx=(a[0]+b[0])/2;
  var p=el("path",{d:"M"+a[0]+","+a[1]+" C"+mx+","+a[1]+" "+mx+","+b[1]+" "+b[0]+","+b[1],"class":"fb-e"});eg.appendChild(p);return p});
var gnodes=N.map(function(n,i){
  var g=el("g",{"class":"fb-n",tabindex:"0",role:"button","aria-label":n.k+" "+n.id+(n.s?" ("+n.s+")":"")+": compromise reaches "+n.ta+" of "+D.tenants+" tenants at admin or above, "+n.tn+" at any privilege"});
  var c=el("circle",{cx:pos[i][0],cy:pos[i][1],r:n.k==="asset"?4:6,"class":"fb-k-"+n.k});
  var t=el("title",{});t.textContent=n.k+" "+n.id+(n.n?" — "+n.n:"")+(n.m?"\nMFA: "+n.m:"")+(n.x?"\ninternet-exposed":"")+(n.v&&n.v.length?"\nknown exploited: "+n.v.join(", "):"")+"\nreaches "+n.ta+" tenants at ≥ admin, "+n.tn+" at any"+(n.p?"\n"+n.p:"");
  g.appendChild(c);g.appendChild(t);
  if(n.k!=="asset"){var l=el("text",{x:pos[i][0]+9,y:pos[i][1]+3});l.textContent=n.id.length>18?n.id.slice(0,17)+"…":n.id;g.appendChild(l)}
  g.addEventListener("click",function(){select(i)});
  g.addEventListener("keydown",function(ev){if(ev.key==="Enter"||ev.key===" "){ev.preventDefault();select(i)}});
  ng.appendChild(g);return g});
// Legend and picker.
var lg=document.getElementById("fb-legend");
order.forEach(function(k){var s=document.createElement("span");s.innerHTML='<span class="fb-sw" style="background:'+KC[k]+'"></span>'+k;lg.appendChild(s)});
[4,3,2,1].forEach(function(p){var s=document.createElement("span");s.innerHTML='<span class="fb-sw" style="background:'+PC[p]+'"></span>reached at '+PN[p];lg.appendChild(s)});
var pick=document.getElementById("fb-pick");
N.map(function(n,i){return i}).filter(function(i){return N[i].tn>0||N[i].k==="outsider"}).sort(function(a,b){return (N[b].ta-N[a].ta)||(N[b].tn-N[a].tn)||(N[a].id<N[b].id?-1:1)}).forEach(function(i){
  var o=document.createElement("option");o.value=i;o.textContent=N[i].id+" ("+N[i].k+") — "+N[i].ta+" tenants at ≥ admin";pick.appendChild(o)});
pick.addEventListener("change",function(){if(pick.value==="")clear();else select(+pick.value)});
document.getElementById("fb-clear").addEventListener("click",clear);
function clear(){root.classList.remove("fb-active");gnodes.forEach(function(g){g.setAttribute("class","fb-n")});
  epaths.forEach(function(p){p.setAttribute("class","fb-e")});document.getElementById("fb-summary").textContent="";pick.value=""}
// Widest path with shortest proof: one BFS per privilege threshold.
function blast(src){
  var best=new Int8Array(N.length),par=[null,null,null,null,null];
  for(var p=4;p>=1;p--){var pr=new Int32Array(N.length).fill(-1),seen=new Uint8Array(N.length),q=[src];seen[src]=1;
    for(var h=0;h<q.length;h++){var v=q[h];out[v].forEach(function(ei){var e=E[ei];if(e[2]<p)return;var w=e[1];if(seen[w])return;seen[w]=1;pr[w]=ei;q.push(w);if(!best[w])best[w]=p})}
    par[p]=pr}
  return {best:best,par:par};
}
function pathTo(r,src,w){var p=[],pr=r.par[r.best[w]];while(w!==src&&p.length<=N.length){var ei=pr[w];if(ei<0)break;p.push(ei);w=E[ei][0]}return p.reverse()}
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return {"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]})}
function select(src){
  var r=blast(src);root.classList.add("fb-active");
  gnodes.forEach(function(g,i){var c="fb-n";if(i===src)c+=" fb-sel";else if(r.best[i])c+=" fb-r fb-r"+r.best[i];g.setAttribute("class",c)});
  epaths.forEach(function(p){p.setAttribute("class","fb-e")});
  var rows=[],cnt=[0,0,0,0,0],assets=0;
  N.forEach(function(n,i){if(!r.best[i])return;if(n.k==="asset")assets++;if(n.k!=="tenant")return;cnt[r.best[i]]++;
    var p=pathTo(r,src,i);p.forEach(function(ei){epaths[ei].setAttribute("class","fb-e fb-p fb-p"+Math.min(E[ei][2],r.best[i]))});
    rows.push([r.best[i],n.id,p])});
  if(N[src].k==="tenant"){cnt[4]++;rows.push([4,N[src].id,[]])}
  rows.sort(function(a,b){return (b[0]-a[0])||(a[2].length-b[2].length)||(a[1]<b[1]?-1:1)});
  var tot=rows.length,adm=cnt[3]+cnt[4];
  var s=N[src].k+" "+N[src].id+": "+tot+" of "+D.tenants+" tenants reached, "+adm+" at admin or above"+(D.tenants&&adm>D.limit?" (above the limit of "+D.limit+")":"")+", "+assets+" assets";
  document.getElementById("fb-summary").textContent=s;pick.value=String(src);
  var h="<h2>"+esc(N[src].k+" "+N[src].id)+"</h2><p>"+esc(s)+(N[src].m?". MFA: "+esc(N[src].m):"")+"</p>";
  h+="<table><thead><tr><th>tenant</th><th>privilege</th></tr></thead><tbody>";
  rows.forEach(function(x){var ps=x[2].map(function(ei){var e=E[ei];return esc(N[e[0]].id)+" —["+esc(e[3]==="grant"?e[5]:e[3])+", "+PN[e[2]]+"]→ "}).join("")+esc(x[1]);
    h+="<tr><td>"+esc(x[1])+"</td><td>"+PN[x[0]]+"</td></tr><tr><td colspan=2 class=fb-path>"+(x[2].length?ps:"(itself)")+"</td></tr>"});
  h+="</tbody></table>";document.getElementById("fb-side").innerHTML=h;
}
// A link can preselect a node: page.html#node=rmm
function fromHash(){var m=/(?:^#|&)node=([^&]+)/.exec(location.hash);if(m){var want=decodeURIComponent(m[1]);N.forEach(function(n,i){if(n.id===want)select(i)})}}
fromHash();window.addEventListener("hashchange",fromHash);
if(D.truncated)document.getElementById("fb-summary").textContent="showing the "+N.length+" nodes with the widest blast radius; "+D.truncated+" more are in the JSON output";
})();`
