/**
 * The built-in injection rules, one list per Kong `injection_types` value, compiled with RE2
 * (linear time whatever the input; no lookaround, no backreferences).
 *
 * Kong's own patterns (kong/plugins/injection-protection/handler.lua, 3.9) are one regex per
 * type and match far too much to be used as they are: its `sql` pattern matches the words
 * "or", "update", "insert", "delete" anywhere (so "Dear Sir or Madam" is an SQL injection),
 * its `xpath_abbreviated` pattern matches any "/" followed by a word (every request path),
 * and its `js` pattern misses `<img onerror=...>` and `<script src=...></script>`. The rules
 * below keep Kong's type names and intent but describe attack *syntax*: the token sequences
 * an interpreter needs to change meaning (a quote that closes a string literal followed by a
 * boolean operator and a comparison, a statement separator followed by a statement, an HTML
 * tag with an event handler...), not keywords that also occur in prose. Each rule says what
 * it targets and what it deliberately leaves alone (workers/plugins/injection-protection/
 * README.md lists them with the corpus figures).
 *
 * Every rule is matched case-insensitively (wrapped in `(?i:...)` by the matcher); a rule that
 * needs case (Java class names) says so with `(?-i:...)` inside.
 */

export const INJECTION_TYPES = ['sql', 'sql_low_sensitivity', 'js', 'ssi', 'xpath_abbreviated', 'xpath_extended', 'java_exception'] as const;
export type InjectionType = (typeof INJECTION_TYPES)[number];

export interface BuiltinRule {
  /** Stable id, logged with a finding (e.g. `sql.union_select`). */
  readonly id: string;
  /** RE2 source, matched case-insensitively. */
  readonly source: string;
}

// ---- shared fragments -------------------------------------------------------------------

/** Whitespace as SQL engines see it: RE2's \s is ASCII [\t\n\f\r ] only; add \v and NBSP. */
const WS = String.raw`[\s\v\x{a0}]`;
/** What may separate two SQL tokens: whitespace, `(`, inline and versioned comments, line comments up to a newline. (`+` is a space only once a query or form is decoded, which scan.ts does.) */
const GAP = String.raw`(?:${WS}|\(|/\*!?\d*|\*/|/\*[^*]*\*/|(?:--|#)[^\n]*\n)`;
/** Token separator in a condition: whitespace or an inline comment (comments as spaces is a classic filter evasion). */
const SP = String.raw`(?:${WS}|/\*[^*]*\*/)`;
/** A quote that can close an SQL or XPath string literal. (Not the backtick: MySQL quotes identifiers with it, and prose in Markdown quotes code with it: "`a` and `b` is false".) */
const SQ = String.raw`['"]`;
/** A quote that can close a JavaScript string or an HTML attribute (backtick: template literals). */
const Q = String.raw`['"\x60]`;
/** An SQL operand: a literal, a column or variable, a function call, a parenthesised expression. */
const OPERAND = String.raw`(?:'[^']*'|"[^"]*"|\x60[^\x60]*\x60|-?\d+(?:\.\d+)?|0x[0-9a-f]+|null\b|[a-z_@][\w.@$]*(?:\([^)]*\))?|\([^)]*\))`;
/**
 * A comparison. Word operators only where they cannot read as English: `is` only before
 * null/true/false, `in` only before `(`, `like`/`regexp` only before a quote.
 */
const CMP = String.raw`(?:<=>|<>|!=|<=|>=|=|<|>|\b(?:r?like|regexp)${WS}*${SQ}|\bis${WS}+(?:not${WS}+)?(?:null|true|false)\b|\bin${WS}*\(|\bbetween${WS}+\S+${WS}+and\b)`;
/** What ends an injected clause: end of value, a comment, a statement separator, a closing parenthesis. */
const TERMINATOR = String.raw`(?:$|--|#|/\*|;|\))`;
/** A boolean operator joining the injected clause. */
const BOOL_OP = String.raw`(?:(?:or|and|xor)\b|\|\||&&)`;
/** What follows the operator in a tautology or a blind-injection probe. */
const INJECTED_CONDITION = String.raw`(?:not\b${SP}*)?\(*${SP}*(?:${OPERAND}${SP}*${CMP}|(?:true|false)${SP}*${TERMINATOR}|\d+${SP}*(?:$|--|#|/\*|;)|[a-z_][\w.]*\(|select\b|exists\b)`;

/** Statements that a stacked query (after `;` or a closed literal) runs. Each needs its object keyword, so "drop" or "delete" as English words never match. */
const STATEMENT = [
  String.raw`drop${WS}+(?:table|database|schema|view|index|procedure|function|trigger|user|login|role)\b`,
  String.raw`truncate${WS}+table\b`,
  String.raw`alter${WS}+(?:table|database|user|login|role|system|session)\b`,
  String.raw`create${WS}+(?:or${WS}+replace${WS}+)?(?:table|database|user|login|role|procedure|function|trigger|view)\b`,
  String.raw`delete${WS}+from\b`,
  String.raw`insert${WS}+into\b`,
  String.raw`update${WS}+[\w.\x60"\[\]]+${WS}+set\b`,
  String.raw`exec(?:ute)?\b${WS}*(?:\(|@|immediate\b|[\w.\[\]]*?(?:xp|sp)_\w|master\b)`,
  String.raw`shutdown${WS}*(?:with${WS}+nowait\b|$|--|#|;)`,
  String.raw`declare${WS}+@`,
  String.raw`set${WS}+@@?\w+${WS}*=`,
  String.raw`waitfor${WS}+(?:delay|time)\b`,
  String.raw`select${WS}+(?:\*|\d+${WS}*(?:,|$|--|#|;|from\b)|@@|null\b|(?:pg_)?sleep\(|benchmark\(|load_file\(|version\(|user\(|database\()`,
].join('|');

// ---- sql ----------------------------------------------------------------------------------

/** What may end a table reference in an injected FROM clause. */
const TABLE_REF_END = String.raw`(?:$|--|#|/\*|;|\)|,|where\b|limit\b|order\b|group\b|union\b|having\b|into\b)`;
/** A column, a qualified name or a literal in a select list. */
const SELECT_ITEM = String.raw`(?:[\w$]+(?:\.[\w$]+)*|${SQ}[^'"\x60]*${SQ})`;
/**
 * The start of a select list as an injected query writes it: NULL, numbers, `*`, variables,
 * literals, function calls, or columns followed by list syntax (a comma and another item, a
 * FROM clause naming a table, a comment). "Select Committee, chaired by..." is not one.
 */
const SELECT_LIST = String.raw`(?:(?:all|distinct|top${GAP}+\d+)${GAP}+)?(?:null\b|-?\d+${WS}*(?:,|--|#|/\*|;|$|\)|from\b)|@@?[a-z]|\*|${SQ}|0x[0-9a-f]|\(|[\w$.]+\(|${SELECT_ITEM}${WS}*(?:--|#|/\*|;|,${WS}*${SELECT_ITEM}${WS}*(?:,|--|#|/\*|;|$|\)|from\b)|from${WS}+[\w.$\x60"\[\]]+${WS}*${TABLE_REF_END}|into${WS}+(?:out|dump)?file\b))`;

/** UNION [ALL|DISTINCT] SELECT and a select list, with anything SQL accepts between the words (comments, `(`, newlines). "reunion", "unionized", "union selected" and "the Union Select Committee" do not match. */
const SQL_UNION_SELECT: BuiltinRule = {
  id: 'sql.union_select',
  source: String.raw`(?:^|[^a-z_])union${GAP}+(?:(?:all|distinct)${GAP}+)?select\b${GAP}*${SELECT_LIST}`,
};

/** A statement after a statement separator, a closed literal or a leading number (T-SQL needs no `;`): `1; DROP TABLE users`, `'; EXEC xp_cmdshell(...)`, `x' SHUTDOWN--`, `1 DECLARE @q ...`. A quote that opens a title (`"Drop Table" is a song`) is not a closed literal. */
const SQL_STACKED: BuiltinRule = {
  id: 'sql.stacked_query',
  source: String.raw`(?:;|[\w)]${SQ}${WS}*\)*|^${WS}*-?\d+${WS}*\)*${WS})${WS}*(?:begin${WS}+)?(?:${STATEMENT})`,
};

/** Functions and objects that only SQL injection payloads use: time-based blind probes, error-based extraction, file and command access, catalog reads. */
const SQL_FUNCTIONS: BuiltinRule = {
  id: 'sql.attack_function',
  source: [
    String.raw`\b(?:pg_)?sleep${WS}*\(${WS}*[\d.]+${WS}*\)`,
    String.raw`\bpg_sleep${WS}*\(`,
    String.raw`\bbenchmark${WS}*\(${WS}*\d+${WS}*,`,
    String.raw`\bwaitfor${WS}+(?:delay|time)${WS}+${SQ}`,
    String.raw`\bdbms_(?:lock\.sleep|pipe\.receive_message)${WS}*\(`,
    String.raw`\b(?:extractvalue|updatexml)${WS}*\(`,
    String.raw`\bload_file${WS}*\(`,
    String.raw`\binto${WS}+(?:out|dump)file\b`,
    String.raw`\bxp_(?:cmdshell|dirtree|regread|fileexist)\b`,
    String.raw`\binformation_schema${WS}*\.${WS}*(?:tables|columns|schemata|routines)\b`,
    String.raw`@@(?:version|datadir|hostname|basedir|servername)\b`,
    String.raw`\butl_(?:inaddr|http)${WS}*\.`,
    // T-SQL dynamic SQL: a typed variable declaration, EXEC of a variable.
    String.raw`\bdeclare${WS}+@\w+${WS}+(?:as${WS}+)?(?:n?varchar|n?char|int|bigint|sysname|table)\b`,
    String.raw`\bexec(?:ute)?${WS}*\(${WS}*@\w+${WS}*\)`,
    // Boolean-blind probes: a CASE WHEN on a comparison, MySQL/T-SQL conditional functions.
    String.raw`\bcase${SP}+when${SP}*\(?[^()]*?(?:=|<|>)[^()]*?\)?${SP}*then\b`,
    String.raw`\b(?:iif|elt|make_set)${WS}*\(${WS}*[\w.]+${WS}*=`,
    // A value that is a subquery: `(SELECT (CASE ...))`, `(SELECT * FROM ...)`.
    String.raw`^${WS}*,?${WS}*\(+${SP}*select${SP}+(?:\(|case\b|\*|@@|null\b|[\w.]+\()`,
  ].join('|'),
};

/**
 * A closed literal followed by a boolean operator and a condition: `' OR '1'='1`,
 * `'or'1'='1`, `") OR ("a"="a`, `' AND ASCII(SUBSTRING(...))>64`, `' HAVING 1=1`.
 * An apostrophe inside a word (O'Brien) is followed by a letter, not an operator; quoted
 * prose ("yes" and "no") has no comparison after the operator.
 */
const SQL_QUOTE_TAUTOLOGY: BuiltinRule = {
  id: 'sql.quote_condition',
  source: String.raw`${SQ}${SP}*\)*${SP}*(?:${BOOL_OP}|having\b)${SP}*${INJECTED_CONDITION}`,
};

/** A numeric parameter extended with a condition: `1 OR 1=1`, `-1) OR (2>1`, `5 AND SLEEP(...)`. Anchored at the start of the value: a number that opens prose is not followed by `or 1=1`. */
const SQL_NUMERIC_TAUTOLOGY: BuiltinRule = {
  id: 'sql.numeric_condition',
  source: String.raw`^${WS}*\(*${WS}*-?\d+(?:\.\d+)?${WS}*\)*${WS}*${BOOL_OP}${WS}*(?:not\b${WS}*)?\(*${WS}*(?:(?:-?\d+|'[^']*'|"[^"]*"|[a-z_@][\w.@$]*\([^)]*\))${WS}*${CMP}|(?:true|false)${WS}*${TERMINATOR}|[a-z_][\w.]*\(|select\b)`,
};

/** A value that starts with the operator, appended to the application's own value: ` or 1=1`, `) or ('a'='a`, ` having 1=1--`, also with inline comments as spaces. */
const SQL_LEADING_CONDITION: BuiltinRule = {
  id: 'sql.leading_condition',
  source: String.raw`^(?:${SP}|[);])*(?:${BOOL_OP}|having\b)${SP}*${INJECTED_CONDITION}`,
};

/** A closed literal that comments out the rest of the query: `admin'--`, `admin' #`, `x');--`, `admin'/*`. */
const SQL_QUOTE_COMMENT: BuiltinRule = {
  id: 'sql.quote_comment',
  source: String.raw`${SQ}${WS}*\)*${WS}*;?${WS}*(?:--|#)[\s-]*$|[\w)]${SQ}${WS}*\)*${WS}*;?${WS}*/\*`,
};

/** Column-count probing: `' ORDER BY 3--`, `1 GROUP BY 1,2#`, ` group by id having 1=1--` (a comment must end it). */
const SQL_ORDER_PROBE: BuiltinRule = {
  id: 'sql.order_by_probe',
  source: String.raw`(?:${SQ}|\d|^)${WS}*\)*${WS}*(?:order|group)${WS}+by${WS}+[\w.,\s]+?(?:\bhaving\b[^;]*?)?${WS}*(?:--|#|/\*)`,
};

// ---- js -----------------------------------------------------------------------------------

const JS_SCHEME = String.raw`(?:j${WS}*a${WS}*v${WS}*a|v${WS}*b|l${WS}*i${WS}*v${WS}*e)${WS}*s${WS}*c${WS}*r${WS}*i${WS}*p${WS}*t${WS}*:`;

/** Event handler names that are never ordinary words in a `name=` pair (online=, onend=, onselect= are left to the tag and quote contexts). */
const EVENT_HANDLERS = String.raw`on(?:error|load|click|dblclick|mouse[a-z]+|pointer[a-z]+|key(?:down|up|press)|focus(?:in|out)?|blur|submit|toggle|animation[a-z]+|transition[a-z]+|begin|scroll|wheel|resize|beforeunload|unload|pageshow|pagehide|hashchange|message|abort|paste|copy|drag[a-z]*|auxclick|contextmenu|beforeprint|afterprint|popstate|loadstart|loadend|readystatechange|touch(?:start|end|move|cancel)|input|change|invalid|beforeinput|selectstart)`;

const JS_RULES: readonly BuiltinRule[] = [
  /** A script element, opening or closing (`</script>` ends the page's own script block). */
  { id: 'js.script_tag', source: String.raw`</?script\b` },
  /** Elements that load or run active content, or redirect the page. */
  {
    id: 'js.active_tag',
    source: String.raw`<(?:iframe|frame|frameset|object|embed|applet|base|isindex)\b|<meta\b[^>]*http-equiv${WS}*=${WS}*['"]?${WS}*refresh|<link\b[^>]*\brel${WS}*=${WS}*['"]?${WS}*import`,
  },
  /** An event handler attribute inside a tag (`<img src=x onerror=...>`, `<svg/onload=...>`) or right after a quote that closes an attribute (`" onmouseover="...`). */
  { id: 'js.event_handler', source: String.raw`<[a-z][\w:-]*[^>]*?[\s/"'\x60]on[a-z]{3,}${WS}*=|${Q}[\s/]*on[a-z]{3,}${WS}*=|\b${EVENT_HANDLERS}${WS}*=` },
  /** A script URL: `javascript:` (also with tabs/spaces inside, which browsers drop) followed by code, or assigned to an attribute. "JavaScript: The Good Parts" is not followed by code. */
  {
    id: 'js.script_url',
    source: String.raw`${JS_SCHEME}${WS}*(?:[\w.$\[\]'"]*[(\x60=]|/|%|&#|\\|\{|void\b|eval\b)|=${WS}*${Q}?${WS}*${JS_SCHEME}|\bdata${WS}*:${WS}*(?:text/html|text/javascript|application/(?:x-)?javascript|application/xhtml\+xml)\b`,
  },
  /** Calls and objects only script payloads use: eval of a string, alert(1), document.cookie, String.fromCharCode, constructor tricks, string timers. */
  {
    id: 'js.script_call',
    source: [
      String.raw`\beval${WS}*\(${WS}*(?:${Q}|atob\b|unescape\b|decodeuri|string\b|location\b|name\b|document\b|window\b|this\b|[\w$.]+\()`,
      String.raw`\b(?:alert|prompt|confirm)${WS}*\(${WS}*(?:\d+${WS}*\)|${Q}|document\b|window\b|location\b|this\b|self\b|top\b|string\b)`,
      String.raw`\b(?:eval|alert|prompt|confirm)${WS}*\x60`,
      String.raw`\bdocument${WS}*\.${WS}*(?:cookie|domain|write(?:ln)?${WS}*\(|location\b)`,
      String.raw`\bwindow${WS}*\.${WS}*(?:location\b|open${WS}*\(|name\b)`,
      String.raw`\b(?:window|self|top|parent|frames|globalthis|document)${WS}*\[${WS}*${Q}`,
      String.raw`\bstring${WS}*\.${WS}*fromcharcode${WS}*\(`,
      String.raw`\bconstructor${WS}*\.${WS}*constructor\b|\bconstructor${WS}*\(${WS}*${Q}|\bfunction${WS}*\(${WS}*${Q}[^'"\x60]*\(`,
      String.raw`\b(?:settimeout|setinterval)${WS}*\(${WS}*${Q}`,
    ].join('|'),
  },
];

// ---- ssi ----------------------------------------------------------------------------------

const SSI_RULES: readonly BuiltinRule[] = [
  /** Apache/nginx server-side include directives (Kong: `<!--#(include|exec|echo|config|printenv)\s+`), plus set/if/fsize/flastmod; an ordinary comment or `<!-- #region -->` does not match. */
  { id: 'ssi.directive', source: String.raw`<!--${WS}*#${WS}*(?:include|exec|echo|config|printenv|set|if|elif|else|endif|fsize|flastmod)\b` },
  /** Edge Side Includes, processed the same way by caches and CDNs in front of an application. */
  { id: 'ssi.esi_tag', source: String.raw`<${WS}*esi${WS}*:${WS}*(?:include|inline|vars|eval|choose|when|otherwise|try|attempt|except|remove|comment|debug|assign)\b` },
];

// ---- xpath --------------------------------------------------------------------------------

const XPATH_AXES = String.raw`(?:ancestor-or-self|ancestor|attribute|child|descendant-or-self|descendant|following-sibling|following|namespace|parent|preceding-sibling|preceding|self)`;

/** XPath injection through the abbreviated syntax (`//`, `@`, `*`, predicates, `|`). A lone path such as `/api/users` is not an injection; these rules need a predicate break-out or a document-wide selection. */
const XPATH_ABBREVIATED_RULES: readonly BuiltinRule[] = [
  /** A literal closed and its predicate ended, followed by a union, a path or a new predicate: `'] | //user/*[`, `')] | //password | a[('`. */
  { id: 'xpath.predicate_breakout', source: String.raw`${SQ}${WS}*\)*${WS}*\]${WS}*(?:\||/|\[|(?:or|and)\b)` },
  /** Selections of the whole document: `| //name`, `//*`, `//@*`, `//user[@id=...]` with a real predicate (not `https://*.example.com`, not `// comment [x]`, not `scheme://host[:port]`). */
  { id: 'xpath.descendant_select', source: String.raw`\|${WS}*//${WS}*[\w*@]|//(?:\*(?:[^.\w]|$)|@[\w*]|[\w:-]+\[${WS}*(?:@|\d|\.|[a-z_][\w:.-]*${WS}*(?:[=<>!(\]/]|${WS}(?:or|and)\b)))` },
  /** An attribute compared inside a predicate: `[@id='1' or '1'='1']`. */
  { id: 'xpath.attribute_predicate', source: String.raw`\[${WS}*@[\w:*-]+${WS}*(?:=|!=|<|>)` },
  /** The same closed-literal condition as SQL (`' or '1'='1`, `' or ''='`): XPath uses `or`/`and` and `=` too. */
  { id: 'xpath.quote_condition', source: String.raw`${SQ}${WS}*\)*${WS}*(?:or|and)\b${WS}*${INJECTED_CONDITION}` },
];

/** XPath injection through the full syntax: axes with a node test, and functions applied to paths (blind extraction). */
const XPATH_EXTENDED_RULES: readonly BuiltinRule[] = [
  /** `descendant::*`, `ancestor::node()`, `/child::user`, `following-sibling::item[1]`. Kong matches the bare words "ancestor", "descendant", "following". */
  {
    id: 'xpath.axis',
    source: String.raw`(?:^|[^\w:-])${XPATH_AXES}${WS}*::${WS}*(?:\*|(?:node|text|comment)${WS}*\(${WS}*\)|processing-instruction${WS}*\(|[\w-]+${WS}*\[)|/${WS}*${XPATH_AXES}${WS}*::`,
  },
  /** A function applied to a path from the root, a parent, an attribute or an axis: `count(/child::node())`, `string-length(name(/*[1]))`, `contains(../password,'a')`. */
  {
    id: 'xpath.path_function',
    source: String.raw`\b(?:count|name|local-name|namespace-uri|string|string-length|normalize-space|substring(?:-before|-after)?|starts-with|contains|translate|sum|boolean|number)${WS}*\(${WS}*(?:\.\.?/|/|@|name${WS}*\(|${XPATH_AXES}${WS}*::)`,
  },
];

// ---- java_exception -----------------------------------------------------------------------

const JAVA_RULES: readonly BuiltinRule[] = [
  /** The first line of an uncaught exception (Kong: `.*?Exception in thread.*`), with the quoted thread name a real trace has. */
  { id: 'java.uncaught_exception', source: String.raw`exception in thread${WS}+"` },
  /** A stack frame: `at com.example.Foo.bar(Foo.java:42)`, `at java.base/java.lang.Thread.run(Thread.java:833)`, `(Native Method)`. */
  {
    id: 'java.stack_frame',
    source: String.raw`\bat${WS}+(?:[\w$.-]+/)*[a-z_$][\w$]*(?:\.[\w$<>]+)+${WS}*\((?:[\w$.-]+\.(?:java|kt|scala|groovy|clj)(?::\d+)?|native method|unknown source)\)`,
  },
  /** A fully qualified throwable class (capitalised, case-sensitive) with its message or at the end: `java.sql.SQLException: ...`, `Caused by: org.x.FooError`. "NullPointerException" alone in prose is not qualified. */
  {
    id: 'java.exception_class',
    source: String.raw`(?:^|[\s:(\[])(?:caused by:${WS}*)?(?:java|javax|jakarta|sun|com|org|net|io|jdk)\.(?:[\w$]+\.)+(?-i:(?:[A-Z][\w$]*)?(?:Exception|Error)|Throwable)\b(?:${WS}*:|${WS}*$|${WS}+at\b)|\bcaused by:${WS}*(?:[\w$]+\.)*(?-i:[A-Z][\w$]*(?:Exception|Error))\b`,
  },
];

// ---- the table ----------------------------------------------------------------------------

export const BUILTIN_RULES: Readonly<Record<InjectionType, readonly BuiltinRule[]>> = {
  sql: [SQL_UNION_SELECT, SQL_STACKED, SQL_FUNCTIONS, SQL_QUOTE_TAUTOLOGY, SQL_NUMERIC_TAUTOLOGY, SQL_LEADING_CONDITION, SQL_QUOTE_COMMENT, SQL_ORDER_PROBE],
  // The unambiguous part of `sql`: statements and functions, no quote heuristics (for fields
  // where free text with quotes and operators is normal).
  sql_low_sensitivity: [SQL_UNION_SELECT, SQL_STACKED, SQL_FUNCTIONS],
  js: JS_RULES,
  ssi: SSI_RULES,
  xpath_abbreviated: XPATH_ABBREVIATED_RULES,
  xpath_extended: XPATH_EXTENDED_RULES,
  java_exception: JAVA_RULES,
};

/** Kong's check order: custom injections first, then the built-in types in this order. */
export const CHECK_ORDER: readonly InjectionType[] = ['sql', 'sql_low_sensitivity', 'js', 'ssi', 'xpath_abbreviated', 'xpath_extended', 'java_exception'];
