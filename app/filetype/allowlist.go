package filetype

// The media types below are the canonical names that
// github.com/gabriel-vasile/mimetype v1.4.16 reports, without parameters.
// A test checks that each one is a type mimetype can detect.

// textTypes are the types accepted for free-form text files. Comma- and
// tab-separated lines and JSON sniff as their own types, and all of them are
// ordinary text. HTML, XML, SVG and scripts are not in the list, although
// mimetype files them under text/plain too.
var textTypes = []string{
	"text/plain",
	"text/csv",
	"text/tab-separated-values",
	"application/json",
	"application/x-ndjson",
}

// tableTypes are the types accepted for CSV and TSV files. A table with one
// line, or with rows of different lengths, sniffs as text/plain.
var tableTypes = []string{
	"text/csv",
	"text/tab-separated-values",
	"text/plain",
}

// jsonTypes are the types accepted for .json. A JSON document whose top
// level is a string or a number, or that has comments, sniffs as text/plain.
var jsonTypes = []string{
	"application/json",
	"application/geo+json",
	"application/x-ndjson",
	"text/plain",
}

// oleTypes are accepted next to the specific type of each legacy Office
// format.
//
// NOTE: mimetype identifies a Word, Excel or PowerPoint 97-2003 file from
// its compound-file directory, which can sit anywhere in the file, often
// beyond HeadSize. Such files sniff as the generic
// application/x-ole-storage and are accepted for .doc, .xls and .ppt. A
// renamed Windows installer (also a compound file) whose directory lies
// beyond the head therefore passes too. It is served as
// application/octet-stream under its .doc name, and Windows opens a .doc
// file with a word processor instead of installing it.
var oleTypes = []string{"application/x-ole-storage"}

// zipTypes are the types accepted for .zip: a plain archive and every
// zip-based document format mimetype recognises. Renaming a .docx to .zip is
// common, and a zip whose first folder is word/ or xl/ sniffs as an Office
// document. JAR and APK are left out because they are programs, so a JAR
// renamed to .zip is a type mismatch.
var zipTypes = []string{
	"application/zip",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation",
	"application/vnd.ms-visio.drawing.main+xml",
	"application/epub+zip",
	"application/vnd.oasis.opendocument.text",
	"application/vnd.oasis.opendocument.text-template",
	"application/vnd.oasis.opendocument.spreadsheet",
	"application/vnd.oasis.opendocument.spreadsheet-template",
	"application/vnd.oasis.opendocument.presentation",
	"application/vnd.oasis.opendocument.presentation-template",
	"application/vnd.oasis.opendocument.graphics",
	"application/vnd.oasis.opendocument.graphics-template",
	"application/vnd.oasis.opendocument.formula",
	"application/vnd.oasis.opendocument.chart",
	"application/vnd.sun.xml.calc",
	"application/vnd.google-earth.kmz",
}

// heifTypes are the types accepted for HEIC and HEIF images. A HEIC file may
// carry the generic mif1 brand, which mimetype reports as image/heif, so
// both extensions accept all four types.
var heifTypes = []string{
	"image/heic",
	"image/heic-sequence",
	"image/heif",
	"image/heif-sequence",
}

// mp4Types are the types accepted for .mp4: the ISO base media file format
// under each brand that mimetype reports as MP4 audio or video.
var mp4Types = []string{
	"video/mp4",
	"audio/mp4",
	"video/x-m4v",
	"audio/x-m4a",
	"video/3gpp",
	"video/3gpp2",
}

// defaultAllowlist maps each extension allowed by default to the media types
// that content sniffing may report for it: everyday documents, images,
// audio, video and archives. Everything else is refused, including HTML,
// SVG, XML, PostScript, scripts, executables and files without an extension.
//
// mimetype calls text that starts with an HTML tag or comment text/html, so
// a Markdown file that opens with "<div>" or "<!-- -->" is a type mismatch.
// Text with HTML further in sniffs as text/plain and is accepted; see the
// note on CheckContent.
var defaultAllowlist = map[string][]string{
	// Documents. JSON is allowed because it is data that applications
	// export and browsers never run. Served as application/json with
	// nosniff, it is blocked as a script source.
	"pdf":  {"application/pdf"},
	"txt":  textTypes,
	"log":  textTypes,
	"md":   textTypes,
	"csv":  tableTypes,
	"tsv":  tableTypes,
	"json": jsonTypes,
	"rtf":  {"text/rtf"},
	"docx": {"application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	"xlsx": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
	"pptx": {"application/vnd.openxmlformats-officedocument.presentationml.presentation"},
	"doc":  append([]string{"application/msword"}, oleTypes...),
	"xls":  append([]string{"application/vnd.ms-excel"}, oleTypes...),
	"ppt":  append([]string{"application/vnd.ms-powerpoint"}, oleTypes...),
	"odt":  {"application/vnd.oasis.opendocument.text"},
	"ods":  {"application/vnd.oasis.opendocument.spreadsheet"},
	"odp":  {"application/vnd.oasis.opendocument.presentation"},
	"epub": {"application/epub+zip"},

	// Images. SVG is left out because it is XML that can carry script.
	"png":  {"image/png", "image/apng"},
	"jpg":  {"image/jpeg"},
	"jpeg": {"image/jpeg"},
	"gif":  {"image/gif"},
	"webp": {"image/webp"},
	"heic": heifTypes,
	"heif": heifTypes,
	"avif": {"image/avif", "image/heif"}, // mif1 as major brand sniffs as HEIF
	"bmp":  {"image/bmp"},
	"tif":  {"image/tiff"},
	"tiff": {"image/tiff"},

	// Audio.
	"mp3":  {"audio/mpeg"},
	"m4a":  {"audio/x-m4a", "audio/mp4", "video/mp4"}, // an mp42 or isom major brand sniffs as video
	"aac":  {"audio/aac"},
	"wav":  {"audio/wav"},
	"flac": {"audio/flac"},
	"ogg":  {"audio/ogg", "video/ogg", "application/ogg"},
	"oga":  {"audio/ogg", "application/ogg"},
	"opus": {"audio/ogg"},

	// Video.
	"mp4":  mp4Types,
	"m4v":  {"video/x-m4v", "video/mp4"},
	"mov":  {"video/quicktime", "video/mp4"},
	"webm": {"video/webm"},
	"mkv":  {"video/matroska", "video/webm"},
	"avi":  {"video/x-msvideo"},

	// Archives. The server never unpacks them.
	"zip": zipTypes,
	"7z":  {"application/x-7z-compressed"},
	"tar": {"application/x-tar"},
	"gz":  {"application/gzip"},
	"tgz": {"application/gzip"},
	"bz2": {"application/x-bzip2"},
	"xz":  {"application/x-xz"},
	"zst": {"application/zstd"},
	"rar": {"application/vnd.rar"},
}

// optionalAllowlist gives the media types for refused-by-default extensions
// that an operator may allow by extension alone, as in "svg". Any other
// extension needs an explicit type, as in "stl:application/octet-stream".
// Scripts and HTML also accept text/plain, because mimetype reports most of
// them as plain text unless they start with a recognised signature.
var optionalAllowlist = map[string][]string{
	"svg":   {"image/svg+xml"},
	"svgz":  {"application/gzip"},
	"html":  {"text/html", "text/plain"},
	"htm":   {"text/html", "text/plain"},
	"xhtml": {"application/xhtml+xml", "text/html"},
	"xml":   {"text/xml", "text/plain"},
	"js":    {"text/javascript", "text/plain"},
	"mjs":   {"text/javascript", "text/plain"},
	"cjs":   {"text/javascript", "text/plain"},
	"ps":    {"application/postscript"},
	"eps":   {"application/postscript"},
	"php":   {"text/x-php", "text/plain"},
	"py":    {"text/x-python", "text/plain"},
	"sh":    {"text/x-shellscript", "text/plain"},
	"exe":   {"application/vnd.microsoft.portable-executable"},
	"msi":   {"application/x-ms-installer", "application/x-ole-storage"},
	"jar":   {"application/java-archive", "application/zip"},
	"apk":   {"application/vnd.android.package-archive", "application/java-archive", "application/zip"},
}

// executableExtensions are the program and script types that the default
// policy rejects as the final extension and as an inner one. They cover
// Windows programs and script hosts, JavaScript, Java, Android and macOS
// packages, and Unix scripts and binaries. They also cover the server-side
// script types, which a web server such as Apache runs wherever they appear
// in a name.
var executableExtensions = map[string]bool{
	"exe": true, "msi": true, "msp": true, "dll": true, "com": true,
	"scr": true, "pif": true, "cpl": true, "bat": true, "cmd": true,
	"ps1": true, "psm1": true, "vbs": true, "vbe": true, "jse": true,
	"wsf": true, "hta": true, "lnk": true, "reg": true,

	"js": true, "mjs": true, "cjs": true,
	"jar": true, "apk": true, "app": true, "dmg": true,

	"sh": true, "bash": true, "zsh": true, "csh": true, "ksh": true,
	"py": true, "pl": true, "rb": true, "cgi": true, "elf": true,

	"php": true, "php3": true, "php4": true, "php5": true, "php6": true,
	"php7": true, "php8": true, "phtml": true, "pht": true, "phps": true,
	"phar": true, "asp": true, "aspx": true, "ashx": true, "asmx": true,
	"jsp": true, "jspx": true, "shtml": true,
}

// innerExemptExtensions are executable extensions that CheckName accepts
// as inner extensions. ".com" ends many domain names, as in
// "invoice-example.com.pdf", and no web server or desktop runs a file
// because ".com" appears before its final extension.
var innerExemptExtensions = map[string]bool{
	"com": true,
}

// activeContentExtensions are markup and vector formats that a browser or an
// image converter interprets as code. With executableExtensions they form
// the set whose files are stored as application/octet-stream if an operator
// allows them.
var activeContentExtensions = map[string]bool{
	"html": true, "htm": true, "xhtml": true, "xht": true, "shtml": true,
	"svg": true, "svgz": true, "xml": true, "xsl": true, "xslt": true,
	"mvg": true, "ps": true, "eps": true,
}
