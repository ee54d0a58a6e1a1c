"""SQL templates and TaurusDB SQL-limiting patterns: pure text functions, no database access.

Three users:

- grouping a node's sessions by what they run ("intelligent kill", session history):
  :func:`sql_template` turns ``select * from t where id=42 -- x`` and ``SELECT * FROM t WHERE id = 7``
  into the same ``SELECT * FROM t WHERE id = ?``;
- TaurusDB's SQL concurrency control (SQL limiting, "SQL限流"): :func:`sql_keywords`,
  :func:`limiting_pattern` and :func:`limiting_sql_type` derive a rule from a statement, and
  :func:`pattern_matches` tells whether a running statement falls under a rule;
- anything else that needs a statement's shape without its values.

How a template is made (MySQL/MariaDB lexical rules, default ``sql_mode``):

- Only the first :data:`MAX_STATEMENT_CHARS` characters of a statement are read, so a huge statement
  costs bounded time; the template itself is also kept within that many characters (whole tokens
  only). Statements that differ only after that point share a template.
- Comments are dropped: ``-- …`` to the end of the line (MySQL needs a space or control character
  after the two dashes, so ``1--1`` is ``1 - -1``), ``# …`` to the end of the line, and ``/* … */``.
  Executable comments ``/*! … */`` and ``/*M! … */`` and optimizer hints ``/*+ … */`` are kept,
  verbatim apart from folded whitespace, because the server acts on them (mysqldump's
  ``/*!40001 SQL_NO_CACHE */``, ``/*+ MAX_EXECUTION_TIME(1000) */``); literals inside them stay.
- Literals become ``?``: single- and double-quoted strings (backslash escapes, doubled quotes;
  double quotes are strings as in the default ``sql_mode``, not ``ANSI_QUOTES`` identifiers),
  ``N'…'``, ``X'…'``, ``B'…'``, ``0x…``, ``0b…``, integers, decimals and exponents; a character-set
  introducer before a literal (``_utf8mb4'…'``, ``_binary 0x…``) goes with it; adjacent string
  literals (``'a' 'b'``, one string to MySQL) give one ``?``; a sign is part of the literal where it
  is unary (``a = -5``, ``(-1, +2)``, ``INTERVAL -1 DAY``) and stays an operator where it is binary
  (``a - 5`` gives ``a - ?``). A ``?`` already in the text (a prepared statement) stays ``?``.
  ``NULL``, ``TRUE`` and ``FALSE`` are keywords, not literals.
- Lists whose length varies with the data collapse: consecutive identical items of an ``IN (…)`` list
  become one (``IN (1, 2, 3)`` and ``IN (4)`` both give ``IN (?)``, ``IN ((1, 2), (3, 4))`` gives
  ``IN ((?, ?))``; a subquery ``IN (SELECT …)`` is left alone), and so do consecutive identical rows
  after ``VALUES``/``VALUE`` (``VALUES (1, 'a'), (2, 'b')`` gives ``VALUES (?, ?)``, rows with
  ``ROW(…)`` too). The row's shape is kept, so ``INSERT`` templates still tell column counts apart.
- Words in a fixed list of SQL keywords and built-in function names are upper-cased (``select`` and
  ``SELECT`` group together); every other word keeps its spelling, since table names may be
  case-sensitive. A word next to ``.`` is a qualified name and keeps its spelling too (``t.status``).
  Backquoted identifiers, user and system variables are kept as written.
- Tokens are joined by single spaces, except none before ``,`` ``)`` ``.`` ``;`` and after ``(``
  ``.``, and none between a name or function and its ``(``: ``COUNT(*)``, ``f(?)`` but ``IN (?)``.
  Spacing in the input never matters. Trailing ``;`` are dropped.
- Malformed text never raises: an unterminated string, quoted identifier or comment runs to the
  end of the text. :func:`sql_template` is idempotent: ``sql_template(sql_template(s)) ==
  sql_template(s)``.

About the SQL-limiting pattern, from Huawei Cloud's documentation:

- "使用TaurusDB的SQL限流" (TaurusDB user guide, taurusdb_03_0163) and "SQL限流" / "SQL Statement
  Concurrency Control" (DAS user guide, das_05_0101): a rule is a sequence of keywords separated
  by ``~``; it matches by plain text, in order, case-insensitively: a statement matches when it
  contains every keyword in the configured order, with anything or nothing between them
  (``key_word1~key_word2~key_word3`` matches ``SELECT key_word1key_word2key_word3 FROM t``, but
  not the keywords out of order); the matcher does not know SQL (``SELECT~JOIN`` matches both
  ``INNER JOIN`` and ``LEFT JOIN``); ``a~and~b`` matches ``xxx a>1 and b>2`` but not
  ``xxx b>2 and a>1``; matching is "prefix matching": ``SELECT~COUNT~t1`` stops both
  ``SELECT COUNT(*) FROM t1`` and ``SELECT COUNT(*) FROM t1 LIMIT 1`` (whatever follows the last
  keyword does not matter; the first keyword need not start the statement).
- Same pages: at most 128 keywords per rule; a keyword cannot be a single backslash or a single
  space; spaces and special whitespace (``\\t``, ``\\r``, ``\\n``) at either end of a keyword are
  ignored; a rule cannot end with ``~``; one rule is at most 1000 bytes (kernel 2.0.54.240600 and
  later; all rules of one statement type plus their concurrency figures at most 4000 bytes, 1024
  bytes before that kernel); rules are per statement type: SELECT, UPDATE, DELETE, and INSERT from
  kernel 2.0.54.240600. (An older edition, written for GaussDB(for MySQL), said that spaces inside
  a keyword are ignored too and that ``\t \r \n`` are not allowed in one; generated keywords
  never hold whitespace, so both editions agree on them. :func:`pattern_matches` follows the
  current edition: inner whitespace is matched as written.)
- "设置SQL限流规则 - SetSqlFilterRule" (TaurusDB API reference): ``pattern`` is one or more keywords
  (at most 128) separated by ``~``, e.g. ``select~from~t1``; it may not contain ``\\``, an English
  or Chinese comma, or ``~~``, and may not end with ``~``.
- "解析SQL限流规则 - ParseSqlLimitRule" (DAS API reference): Huawei's own generator turns
  ``SELECT * from test_db`` into ``SELECT~from~test_db``: the statement's words in order, operators
  dropped; with ``use_template`` the literals are dropped too. :func:`limiting_pattern` does the
  same from the template's words (so keywords come upper-cased; matching ignores case anyway).

Because matching is plain text, a generated pattern is broader than its statement: ``SELECT~FROM~t1``
also matches ``SELECT * FROM t10``. That is the server's rule, reproduced, not corrected, here.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import OrderedDict
from functools import lru_cache
from typing import Final, NamedTuple

__all__ = [
    "LIMITING_MAX_KEYWORDS",
    "LIMITING_MAX_PATTERN_BYTES",
    "LIMITING_SQL_TYPES",
    "MAX_STATEMENT_CHARS",
    "limiting_pattern",
    "limiting_pattern_keywords",
    "limiting_sql_type",
    "pattern_matches",
    "sql_keywords",
    "sql_template",
]

#: Characters of a statement that are read; the template is kept within this length too.
MAX_STATEMENT_CHARS: Final = 4096
#: TaurusDB: "单个限流规则最大支持128个关键字".
LIMITING_MAX_KEYWORDS: Final = 128
#: TaurusDB (kernel 2.0.54.240600 and later): "单条规则长度不能超过1000 bytes".
LIMITING_MAX_PATTERN_BYTES: Final = 1000
#: The statement types TaurusDB keeps limiting rules for (INSERT from kernel 2.0.54.240600).
LIMITING_SQL_TYPES: Final = ("SELECT", "UPDATE", "DELETE", "INSERT")

# What a limiting rule may not hold besides its "~" separators: SetSqlFilterRule's
# "不能包含‘\\’、中英文逗号".
_FORBIDDEN_IN_PATTERN: Final = ("\\", ",", "，")
_FORBIDDEN_IN_KEYWORD: Final = ("~", *_FORBIDDEN_IN_PATTERN)
# "关键字首尾的空格和特殊空白字符（如'\\t'、'\\r'、'\\n'）都会被忽略掉"
_PATTERN_WHITESPACE: Final = " \t\r\n\f\v"

# -- token kinds ---------------------------------------------------------------------------------
_KEYWORD: Final = 0  # a listed keyword, upper-cased
_NAME: Final = 1  # any other word (identifier, unlisted function), as written
_QUOTED_NAME: Final = 2  # `backquoted`
_VARIABLE: Final = 3  # @user_var, @@system (in @@global.x the .x is a name of its own)
_LITERAL: Final = 4  # ? for a number, hex/bit literal or a ? in the text
_STRING: Final = 5  # ? for a string literal (the next adjacent string joins it)
_OPERATOR: Final = 6
_SIGN: Final = 7  # a unary + or -, folded into a literal that follows
_KEPT_COMMENT: Final = 8  # /*! … */, /*M! … */, /*+ … */

_Token = tuple[int, str]

# -- words ---------------------------------------------------------------------------------------
# Upper-cased wherever they appear (except next to "."): reserved words and the common non-reserved
# keywords of MySQL 8 and MariaDB. Not exhaustive: an unlisted keyword keeps its spelling, which only
# means that two spellings of it make two templates.
_KEYWORDS_TEXT: Final = """
ACCESSIBLE ACTION ADD AFTER AGAINST ALGORITHM ALL ALTER ANALYZE AND ANY AS ASC ASENSITIVE
AUTO_INCREMENT BEFORE BEGIN BETWEEN BOOLEAN BOTH BY CALL CASCADE CASE CHANGE CHARACTER CHARSET CHECK
COLLATE COLUMN COLUMNS COMMENT COMMIT COMMITTED CONDITION CONNECTION CONSISTENT CONSTRAINT CONTINUE
CREATE CROSS CUBE CURSOR DATABASES DEALLOCATE DECLARE DEFAULT DEFINER DELAYED DELETE DESC DESCRIBE
DETERMINISTIC DISABLE DISTINCT DISTINCTROW DIV DO DROP DUAL DUPLICATE EACH ELSE ELSEIF EMPTY ENABLE
ENCLOSED END ENGINE ESCAPE ESCAPED EVENT EXCEPT EXECUTE EXISTS EXIT EXPLAIN EXTENDED FALSE FETCH
FIELDS FIRST FOLLOWING FOR FORCE FOREIGN FORMAT FROM FULL FULLTEXT FUNCTION GENERATED GET GLOBAL
GRANT GROUP GROUPING GROUPS HANDLER HAVING HIGH_PRIORITY IGNORE IN INDEX INFILE INNER INOUT
INSENSITIVE INSERT INTERSECT INTERVAL INTO INVOKER IS ISOLATION ITERATE JOIN KEY KEYS KILL LAST
LATERAL LEADING LEAVE LEVEL LIKE LIMIT LINEAR LINES LOAD LOCAL LOCK LOCKED LONG LOOP LOW_PRIORITY
MAXVALUE MODE MODIFIES NAMES NATURAL NEXT NO NOT NOWAIT NO_WRITE_TO_BINLOG NULL NULLS OF OFFSET ON
ONLY OPTIMIZE OPTION OPTIONALLY OR ORDER OUT OUTER OUTFILE OVER PARTITION PRECEDING PRECISION
PREPARE PRIMARY PROCEDURE PROCESSLIST PURGE QUERY QUICK RANGE READ READS RECURSIVE REFERENCES REGEXP
RELEASE RENAME REPEATABLE REQUIRE RESIGNAL RESTRICT RETURN RETURNING RETURNS REVOKE RLIKE ROLLBACK
ROLLUP ROWS SAVEPOINT SCHEMAS SECURITY SELECT SENSITIVE SEPARATOR SERIALIZABLE SESSION SET SHARE
SHOW SIGNAL SKIP SNAPSHOT SOME SPATIAL SPECIFIC SQL SQLEXCEPTION SQLSTATE SQLWARNING SQL_BIG_RESULT
SQL_BUFFER_RESULT SQL_CACHE SQL_CALC_FOUND_ROWS SQL_NO_CACHE SQL_SMALL_RESULT START STARTING STATUS
STORED STRAIGHT_JOIN SYSTEM TABLE TABLES TEMPORARY TERMINATED THEN TO TRAILING TRANSACTION TRIGGER
TRUE TRUNCATE UNBOUNDED UNCOMMITTED UNDO UNION UNIQUE UNKNOWN UNLOCK UNSIGNED UPDATE USAGE USE USING
VALUE VALUES VARIABLES VARYING VIEW VIRTUAL WARNINGS WHEN WHERE WHILE WINDOW WITH WORK WRITE XOR
ZEROFILL
"""
# Upper-cased like keywords, but written against their "(" like any function call: built-in
# functions, data types (``VARCHAR(?)``) and ``ROW(…)``. Several are reserved words too (LEFT, IF, REPLACE).
_FUNCTION_WORDS_TEXT: Final = """
ABS ADDDATE AVG BIGINT BINARY BIT BIT_AND BIT_OR BIT_XOR BLOB BOOL CAST CEIL CEILING CHAR
CHAR_LENGTH COALESCE CONCAT CONCAT_WS CONNECTION_ID CONVERT COUNT CUME_DIST CURDATE CURRENT_DATE
CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURTIME DATABASE DATE DATEDIFF DATETIME DATE_ADD
DATE_FORMAT DATE_SUB DAY DAYOFWEEK DAY_HOUR DAY_MICROSECOND DAY_MINUTE DAY_SECOND DEC DECIMAL
DENSE_RANK DOUBLE ELT ENUM EXTRACT FIELD FIND_IN_SET FIRST_VALUE FLOAT FLOOR FROM_UNIXTIME GREATEST
GROUP_CONCAT HEX HOUR HOUR_MICROSECOND HOUR_MINUTE HOUR_SECOND IF IFNULL INET_ATON INET_NTOA INSTR
INT INTEGER ISNULL JSON JSON_ARRAY JSON_CONTAINS JSON_EXTRACT JSON_OBJECT JSON_SET JSON_TABLE
JSON_UNQUOTE LAG LAST_DAY LAST_INSERT_ID LAST_VALUE LCASE LEAD LEAST LEFT LENGTH LOCALTIME
LOCALTIMESTAMP LOCATE LONGBLOB LONGTEXT LOWER LPAD LTRIM MATCH MAX MD5 MEDIUMBLOB MEDIUMINT
MEDIUMTEXT MICROSECOND MIN MINUTE MINUTE_MICROSECOND MINUTE_SECOND MOD MONTH NOW NTH_VALUE NTILE
NULLIF NUMERIC PERCENT_RANK POSITION POW POWER QUARTER RAND RANK REAL REPEAT REPLACE REVERSE RIGHT
ROUND ROW ROW_COUNT ROW_NUMBER RPAD RTRIM SCHEMA SECOND SECOND_MICROSECOND SHA1 SHA2 SIGN SLEEP
SMALLINT SQRT STD STDDEV STR_TO_DATE SUBDATE SUBSTR SUBSTRING SUBSTRING_INDEX SUM SYSDATE TEXT TIME
TIMEDIFF TIMESTAMP TIMESTAMPADD TIMESTAMPDIFF TINYBLOB TINYINT TINYTEXT TO_DAYS TRIM TRUNCATE UCASE
UNHEX UNIX_TIMESTAMP UPPER USER UTC_DATE UTC_TIME UTC_TIMESTAMP UUID UUID_SHORT VARBINARY VARCHAR
VERSION WEEK YEAR YEAR_MONTH
"""
_FUNCTION_WORDS: Final = frozenset(_FUNCTION_WORDS_TEXT.split())
_KEYWORDS: Final = frozenset(_KEYWORDS_TEXT.split()) | _FUNCTION_WORDS
# Keywords that end an operand, so that a "-" after them is binary: "END - 1", "NULL - 1".
_OPERAND_KEYWORDS_TEXT: Final = """
NULL TRUE FALSE UNKNOWN END CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER LOCALTIME
LOCALTIMESTAMP UTC_DATE UTC_TIME UTC_TIMESTAMP
"""
_OPERAND_KEYWORDS: Final = frozenset(_OPERAND_KEYWORDS_TEXT.split())
_SUBQUERY_STARTS: Final = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
_ROW_LIST_KEYWORDS: Final = frozenset({"VALUES", "VALUE"})

# Character sets that may introduce a literal (MySQL 8 and MariaDB), longest first.
_CHARSETS_TEXT: Final = """
armscii8 ascii big5 binary cp1250 cp1251 cp1256 cp1257 cp850 cp852 cp866 cp932 dec8 eucjpms euckr
gb18030 gb2312 gbk geostd8 greek hebrew hp8 keybcs2 koi8r koi8u latin1 latin2 latin5 latin7 macce
macroman sjis swe7 tis620 ucs2 ujis utf16 utf16le utf32 utf8 utf8mb3 utf8mb4
"""
_CHARSETS: Final = sorted(_CHARSETS_TEXT.split(), key=lambda name: (-len(name), name))

# -- the scanner ---------------------------------------------------------------------------------
# One alternation, tried left to right at each position; each group is one token kind, so
# ``match.lastindex`` tells which, and each token takes the whitespace after it along (fewer matches).
# Loops are possessive and every loop accepts every character up to its closing quote, so nothing
# backtracks and an unterminated quote or comment simply ends at \Z.
_WORD_CHAR = r"[\w$\u0080-\U0010ffff]"
_WS = r"[ \t\n\r\f\v]"
_WHITESPACE: Final = " \t\n\r\f\v"
_TOKEN_RE: Final = re.compile(
    rf"""
  (?:
    (?P<kept>/\*(?:!|\+|M!).*?(?:\*/|\Z))
  | (?P<comment>/\*.*?(?:\*/|\Z)|\#[^\n]*|--(?=[\x00-\x20\x7f]|\Z)[^\n]*)
  | (?P<introducer>_(?i:{"|".join(_CHARSETS)})(?!{_WORD_CHAR}){_WS}*(?=['"]|[xXbB]'|0[xb]))
  | (?P<string>[nN]?'(?:[^'\\]++|\\.|\\\Z|'')*+(?:'|\Z)|"(?:[^"\\]++|\\.|\\\Z|"")*+(?:"|\Z))
  | (?P<number>[xXbB]'[^']*+(?:'|\Z)
      |(?:0x[0-9a-fA-F]+|0b[01]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)(?!{_WORD_CHAR}))
  | (?P<placeholder>\?)
  | (?P<quoted>`(?:[^`]++|``)*+(?:`|\Z))
  | (?P<variable>@@?{_WORD_CHAR}*)
  | (?P<word>{_WORD_CHAR}+)
  | (?P<operator><=>|->>|->|<=|>=|<>|!=|:=|\|\||&&|<<|>>|.)
  ){_WS}*+
    """,
    re.VERBOSE | re.DOTALL,
)
_GROUP = _TOKEN_RE.groupindex
_G_KEPT: Final = _GROUP["kept"]
_G_STRING: Final = _GROUP["string"]
_G_NUMBER: Final = _GROUP["number"]
_G_PLACEHOLDER: Final = _GROUP["placeholder"]
_G_QUOTED: Final = _GROUP["quoted"]
_G_VARIABLE: Final = _GROUP["variable"]
_G_WORD: Final = _GROUP["word"]
_G_OPERATOR: Final = _GROUP["operator"]
_SPACE_RUN: Final = re.compile(f"{_WS}+")

_QUESTION: Final[_Token] = (_LITERAL, "?")
_QUESTION_STRING: Final[_Token] = (_STRING, "?")
_OPEN: Final[_Token] = (_OPERATOR, "(")
_COMMA: Final[_Token] = (_OPERATOR, ",")
_SEMICOLON: Final[_Token] = (_OPERATOR, ";")
_ROW: Final[_Token] = (_KEYWORD, "ROW")
_IN: Final[_Token] = (_KEYWORD, "IN")
_OPERAND_KINDS: Final = frozenset({_NAME, _QUOTED_NAME, _VARIABLE, _LITERAL, _STRING})


class _Scan(NamedTuple):
    tokens: list[_Token]
    closing: dict[int, int]  # index of each matched "(" -> index of its ")"
    has_lists: bool  # an IN or VALUES that may need folding


def _scan(text: str) -> _Scan:
    """The text's tokens, literals already ``?``."""
    tokens: list[_Token] = []
    append = tokens.append
    closing: dict[int, int] = {}
    opened: list[int] = []
    has_lists = False
    last_word = ""  # the spelling of the latest word, to restore it when a "." follows
    for match in _TOKEN_RE.finditer(text, len(text) - len(text.lstrip(_WHITESPACE))):
        group = match.lastindex
        if group == _G_WORD:
            word = match.group(group)
            upper = word.upper() if word.isascii() else word
            if upper in _KEYWORDS and not (tokens and tokens[-1][1] == "."):
                append((_KEYWORD, upper))
                if upper == "IN" or upper in _ROW_LIST_KEYWORDS:
                    has_lists = True
            else:
                append((_NAME, word))
            last_word = word
        elif group == _G_OPERATOR:
            operator = match.group(group)
            if operator == "(":
                opened.append(len(tokens))
                append(_OPEN)
            elif operator == ")" and opened:
                closing[opened.pop()] = len(tokens)
                append((_OPERATOR, operator))
            elif operator in ("-", "+") and not _ends_operand(tokens):
                append((_SIGN, operator))
            else:
                if operator == "." and tokens and tokens[-1][0] == _KEYWORD:
                    tokens[-1] = (_NAME, last_word)  # a qualifier: t.status, `select`.x
                append((_OPERATOR, operator))
        elif group in (_G_NUMBER, _G_PLACEHOLDER):
            while tokens and tokens[-1][0] == _SIGN:
                tokens.pop()
            append(_QUESTION)
        elif group == _G_STRING:
            if tokens and tokens[-1][0] == _STRING:
                continue  # 'a' 'b' is one string
            while tokens and tokens[-1][0] == _SIGN:
                tokens.pop()
            append(_QUESTION_STRING)
        elif group == _G_QUOTED:
            append((_QUOTED_NAME, match.group(group)))
        elif group == _G_VARIABLE:
            append((_VARIABLE, match.group(group)))
        elif group == _G_KEPT:
            append((_KEPT_COMMENT, _SPACE_RUN.sub(" ", match.group(group))))
        # comments and introducers leave nothing
    return _Scan(tokens, closing, has_lists)


def _ends_operand(tokens: list[_Token]) -> bool:
    """Whether a "+" or "-" after these tokens is binary (after an operand) rather than a sign."""
    if not tokens:
        return False
    kind, text = tokens[-1]
    if kind in _OPERAND_KINDS:
        return True
    if kind == _OPERATOR:
        return text == ")"
    return kind == _KEYWORD and text in _OPERAND_KEYWORDS


def _spaced(prev_kind: int, prev_text: str, kind: int, text: str) -> bool:
    """Whether the template puts a space between two tokens."""
    if kind == _OPERATOR and (text == "," or text == ")" or text == "." or text == ";"):
        return False
    if prev_kind == _OPERATOR and (prev_text == "(" or prev_text == "."):
        return False
    if kind == _OPERATOR and text == "(":
        return not (
            prev_kind in (_NAME, _QUOTED_NAME) or (prev_kind == _KEYWORD and prev_text in _FUNCTION_WORDS)
        )
    return True


def _render(tokens: list[_Token]) -> str:
    parts: list[str] = []
    prev_kind, prev_text = -1, ""
    for kind, text in tokens:
        if parts and _spaced(prev_kind, prev_text, kind, text):
            parts.append(" ")
        parts.append(text)
        prev_kind, prev_text = kind, text
    return "".join(parts)


def _within_budget(tokens: list[_Token], budget: int) -> list[_Token]:
    """The longest run of leading tokens whose rendering fits in ``budget`` characters."""
    length = 0
    prev_kind, prev_text = -1, ""
    for index, (kind, text) in enumerate(tokens):
        length += len(text) + (1 if index and _spaced(prev_kind, prev_text, kind, text) else 0)
        if length > budget:
            return tokens[:index]
        prev_kind, prev_text = kind, text
    return tokens


# -- folding IN lists and VALUES rows ------------------------------------------------------------
class _Folder:
    """Folds the IN lists and VALUES rows of a token list, jumping from one "(" to the next."""

    def __init__(self, tokens: list[_Token], closing: dict[int, int]) -> None:
        self.tokens = tokens
        self.closing = closing
        self.opens = sorted(closing)

    def fold(self, start: int, stop: int) -> list[_Token]:
        """The tokens in ``start:stop`` (whole parenthesised groups only), folded."""
        tokens, closing, opens = self.tokens, self.closing, self.opens
        out: list[_Token] = []
        index = start
        at = bisect_left(opens, start)
        while at < len(opens) and opens[at] < stop:
            opening = opens[at]
            out.extend(tokens[index:opening])
            before = tokens[opening - 1] if opening > start else None
            if before is not None and before[0] == _KEYWORD and before[1] in _ROW_LIST_KEYWORDS:
                index = self._rows(opening, opening, stop, out)
            elif (
                before == _ROW
                and opening - 2 >= start
                and tokens[opening - 2][0] == _KEYWORD
                and tokens[opening - 2][1] in _ROW_LIST_KEYWORDS
            ):
                out.pop()  # the ROW, which the row takes along
                index = self._rows(opening - 1, opening, stop, out)
            else:
                end = closing[opening]
                inner = self.fold(opening + 1, end)
                if before == _IN and not (
                    inner and inner[0][0] == _KEYWORD and inner[0][1] in _SUBQUERY_STARTS
                ):
                    inner = _fold_items(inner)
                out.append(tokens[opening])
                out.extend(inner)
                out.append(tokens[end])
                index = end + 1
            at = bisect_left(opens, index, at + 1)
        out.extend(tokens[index:stop])
        return out

    def _rows(self, start: int, opening: int, stop: int, out: list[_Token]) -> int:
        """Append the VALUES rows from ``start`` on, consecutive duplicates once; the index after them."""
        tokens, closing = self.tokens, self.closing
        previous_row: list[str] | None = None
        while True:
            end = closing[opening] + 1
            row = self.fold(start, end)
            texts = [text for _, text in row]  # a string's ? and a number's ? are the same row
            if texts != previous_row:
                if previous_row is not None:
                    out.append(_COMMA)
                out.extend(row)
                previous_row = texts
            if end + 1 < stop and tokens[end] == _COMMA:
                start = end + 1
                opening = start + 1 if tokens[start] == _ROW else start
                if opening < stop and opening in closing:
                    continue
            return end


def _fold_items(inner: list[_Token]) -> list[_Token]:
    """An IN list with consecutive identical items given once."""
    items: list[list[_Token]] = [[]]
    depth = 0
    for token in inner:
        kind, text = token
        if kind == _OPERATOR:
            if text == "(":
                depth += 1
            elif text == ")":
                depth -= 1
            elif text == "," and depth == 0:
                items.append([])
                continue
        items[-1].append(token)
    if len(items) == 1:
        return inner
    out: list[_Token] = []
    previous: list[str] | None = None
    for item in items:
        texts = [text for _, text in item]  # a string's ? and a number's ? are the same item
        if texts == previous:
            continue
        if previous is not None:
            out.append(_COMMA)
        out.extend(item)
        previous = texts
    return out


# -- the template --------------------------------------------------------------------------------
class _Analysis(NamedTuple):
    template: str
    tokens: tuple[_Token, ...]


def _trim_semicolons(tokens: list[_Token]) -> None:
    while tokens and tokens[-1] == _SEMICOLON:
        tokens.pop()


# A node's sessions mostly run a few statements over and over: the latest 2048 distinct heads are
# remembered (at most 2048 x MAX_STATEMENT_CHARS characters of keys).
@lru_cache(maxsize=2048)
def _analyse(head: str) -> _Analysis:
    """The template and tokens of a statement's first MAX_STATEMENT_CHARS characters (``head``)."""
    tokens, closing, has_lists = _scan(head)
    _trim_semicolons(tokens)
    # No token costs more characters in the template than in the text, and a space comes at most
    # once per token, so only a text over half the budget can need cutting. The cut comes before
    # folding, so that a template read again keeps all of its own tokens (idempotence).
    if 2 * len(head) > MAX_STATEMENT_CHARS:
        tokens = _within_budget(tokens, MAX_STATEMENT_CHARS)
        _trim_semicolons(tokens)
    if has_lists:
        if closing and max(closing.values()) >= len(tokens):  # pairs the cut broke are unmatched
            closing = {start: end for start, end in closing.items() if end < len(tokens)}
        tokens = _Folder(tokens, closing).fold(0, len(tokens))
    return _Analysis(_render(tokens), tuple(tokens))


class _Templates:
    """Templates of the statements seen lately, by statement head: a node's sessions keep running
    the same statements between two looks at them (intelligent kill's statistic, the SQL limiter's
    checks every second), and a few thousand sessions mostly differ in their literals, more than
    _analyse's cache of 2048 heads holds. Bounded by characters (keys and templates), least recently
    used out first."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._chars = 0
        self._entries: OrderedDict[str, str] = OrderedDict()

    def get(self, head: str) -> str:
        template = self._entries.get(head)
        if template is not None:
            self._entries.move_to_end(head)
            return template
        template = _analyse(head).template
        self._entries[head] = template
        self._chars += len(head) + len(template)
        while self._chars > self._budget:
            old_head, old_template = self._entries.popitem(last=False)
            self._chars -= len(old_head) + len(old_template)
        return template


TEMPLATE_CACHE_CHARS: Final = 8_000_000
_TEMPLATES: Final = _Templates(TEMPLATE_CACHE_CHARS)


def sql_template(statement: str) -> str:
    """The statement's template: comments dropped, literals ``?``, lists folded, keywords upper-cased.

    ``SELECT * FROM t WHERE a = 1 AND b IN ('x', 'y')`` and ``select * from t where a=2 and b in ('z')``
    both give ``SELECT * FROM t WHERE a = ? AND b IN (?)``. Only the first
    :data:`MAX_STATEMENT_CHARS` characters are read, and the template is at most that long. The
    module's docstring lists the rules; malformed text never raises.
    """
    return _TEMPLATES.get(statement[:MAX_STATEMENT_CHARS])


# -- SQL-limiting patterns -----------------------------------------------------------------------
def _keywords(head: str) -> list[str]:
    words: list[str] = []
    append = words.append
    for kind, text in _analyse(head).tokens:
        if kind == _KEYWORD:
            append(text)
        elif kind in (_NAME, _VARIABLE):
            # ASCII word characters are letters, digits, "_" and "$"; beyond ASCII only the
            # fullwidth comma can be one a rule refuses.
            if text.isascii() or "，" not in text:
                append(text)
        elif kind == _QUOTED_NAME:
            # The name as the statement spells it, without its backquotes (a doubled backquote
            # stays doubled, as in the text); a name with spaces gives one keyword per part.
            inner = text[1:-1] if len(text) > 1 and text.endswith("`") else text[1:]
            words.extend(
                part for part in inner.split() if not any(bad in part for bad in _FORBIDDEN_IN_KEYWORD)
            )
    return words


def sql_keywords(statement_or_template: str) -> list[str]:
    """The words of a statement, in order, as a TaurusDB limiting rule would list them.

    The words of the statement's template: SQL keywords (upper-cased), names (as written, a
    backquoted name without its backquotes) and variables; literals, operators, punctuation and
    comments are left out, and so is a word that a rule cannot hold (one with ``~``, ``\\`` or a
    comma). A statement and its template give the same list. All words are returned; see
    :func:`limiting_pattern` for the rule's limits.
    """
    return _keywords(statement_or_template[:MAX_STATEMENT_CHARS])


def limiting_pattern(statement: str) -> str:
    """The TaurusDB SQL-limiting rule for a statement: its keywords joined by ``~``.

    ``SELECT * from test_db`` gives ``SELECT~FROM~test_db``. The rule keeps the leading keywords
    within TaurusDB's limits (:data:`LIMITING_MAX_KEYWORDS` keywords,
    :data:`LIMITING_MAX_PATTERN_BYTES` bytes of UTF-8); since matching is in order with anything
    after the last keyword, the shortened rule still matches the statement. A statement without
    any word (empty, only a comment or literals) gives ``""``, which is no valid rule.
    """
    kept: list[str] = []
    size = -1  # no "~" before the first keyword
    for word in _keywords(statement[:MAX_STATEMENT_CHARS]):
        size += 1 + len(word.encode())
        if len(kept) == LIMITING_MAX_KEYWORDS or size > LIMITING_MAX_PATTERN_BYTES:
            break
        kept.append(word)
    return "~".join(kept)


def limiting_sql_type(statement: str) -> str | None:
    """The statement type a TaurusDB limiting rule for this statement belongs to, or None.

    One of :data:`LIMITING_SQL_TYPES`: the statement's first keyword, after any opening parentheses
    (``(SELECT …) UNION …``) and, for ``WITH …``, the first such keyword outside parentheses. Other
    statements (REPLACE, SET, CALL, DDL, …) have no limiting type.
    """
    tokens = _analyse(statement[:MAX_STATEMENT_CHARS]).tokens
    start = 0
    while start < len(tokens) and tokens[start] == _OPEN:
        start += 1
    if start == len(tokens) or tokens[start][0] != _KEYWORD:
        return None
    first = tokens[start][1]
    if first in LIMITING_SQL_TYPES:
        return first
    if first != "WITH":
        return None
    depth = 0
    for kind, text in tokens[start + 1 :]:
        if kind == _OPERATOR and text == "(":
            depth += 1
        elif kind == _OPERATOR and text == ")":
            depth -= 1
        elif depth == 0 and kind == _KEYWORD and text in LIMITING_SQL_TYPES:
            return text
    return None


def limiting_pattern_keywords(pattern: str) -> tuple[str, ...]:
    """A TaurusDB limiting rule's keywords (ends trimmed), or ValueError if TaurusDB would refuse it.

    Refused, as Huawei's documentation states: an empty rule; one ending with ``~`` or holding
    ``~~``, ``\\`` or an English or Chinese comma; a keyword that is empty after trimming spaces
    and ``\\t \\r \\n`` at its ends (so no single-space keyword); more than
    :data:`LIMITING_MAX_KEYWORDS` keywords; more than :data:`LIMITING_MAX_PATTERN_BYTES` bytes. A
    leading ``~`` (an empty first keyword) is refused too.
    """
    if not pattern:
        raise ValueError("the limiting rule is empty")
    if len(pattern.encode()) > LIMITING_MAX_PATTERN_BYTES:
        raise ValueError(f"the limiting rule is longer than {LIMITING_MAX_PATTERN_BYTES} bytes")
    if pattern.endswith("~"):
        raise ValueError("a limiting rule cannot end with '~'")
    if "~~" in pattern:
        raise ValueError("a limiting rule cannot hold '~~'")
    for bad in _FORBIDDEN_IN_PATTERN:
        if bad in pattern:
            raise ValueError(f"a limiting rule cannot hold {bad!r}")
    keywords = tuple(keyword.strip(_PATTERN_WHITESPACE) for keyword in pattern.split("~"))
    if len(keywords) > LIMITING_MAX_KEYWORDS:
        raise ValueError(f"a limiting rule holds at most {LIMITING_MAX_KEYWORDS} keywords")
    if not all(keywords):
        raise ValueError("a limiting rule's keywords cannot be empty or only spaces")
    return keywords


@lru_cache(maxsize=1024)
def _folded_keywords(pattern: str) -> tuple[str, ...]:
    return tuple(keyword.casefold() for keyword in limiting_pattern_keywords(pattern))


def pattern_matches(pattern: str, statement: str) -> bool:
    """Whether TaurusDB's limiting rule ``pattern`` matches the statement text.

    Plain-text matching as TaurusDB documents it: every keyword occurs in the statement, in the
    rule's order, without overlapping, anything or nothing between them and after the last,
    ignoring case (Unicode case folding here). The statement is matched as it is, comments and
    literals included: ``SELECT~JOIN`` matches ``SELECT … LEFT JOIN …``, ``t1`` matches ``t10``.
    Raises ValueError for a rule TaurusDB would refuse (:func:`limiting_pattern_keywords`).
    """
    keywords = _folded_keywords(pattern)
    text = statement.casefold()
    position = 0
    for keyword in keywords:
        found = text.find(keyword, position)
        if found < 0:
            return False
        position = found + len(keyword)
    return True
