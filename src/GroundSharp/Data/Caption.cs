using System.Text;

namespace GroundSharp.Data;

/// <summary>Text cleaning exactly as ALBEF's <c>pre_caption</c> (dataset/utils.py).</summary>
public static class Caption
{
    public const int DefaultMaxWords = 30;

    /// <summary>
    /// ALBEF's <c>pre_caption</c>: lower-case; delete <c>, . ' ! ? " ( ) * # : ; ~</c>; map <c>-</c> and <c>/</c>
    /// to spaces; replace every run of two or more whitespace characters by one space; <c>rstrip('\n')</c>;
    /// <c>strip(' ')</c>; keep at most <paramref name="maxWords"/> space-separated words.
    /// Returns an empty string when nothing is left; callers that need a phrase must reject that.
    /// </summary>
    public static string PreCaption(string text, int maxWords = DefaultMaxWords)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (maxWords < 1) throw new ArgumentOutOfRangeException(nameof(maxWords), maxWords, "must be at least 1");

        var cleaned = new StringBuilder(text.Length);
        foreach (char c in text.ToLowerInvariant())
        {
            switch (c)
            {
                case ',' or '.' or '\'' or '!' or '?' or '"' or '(' or ')' or '*' or '#' or ':' or ';' or '~':
                    break;
                case '-' or '/':
                    cleaned.Append(' ');
                    break;
                default:
                    cleaned.Append(c);
                    break;
            }
        }

        string collapsed = CollapseWhitespaceRuns(cleaned.ToString());
        string trimmed = collapsed.TrimEnd('\n').Trim(' ');

        // After collapsing, no two spaces are adjacent, so split(' ') yields the words Python would.
        string[] words = trimmed.Split(' ');
        return words.Length > maxWords ? string.Join(' ', words, 0, maxWords) : trimmed;
    }

    /// <summary>Python's <c>re.sub(r"\s{2,}", ' ', s)</c>: a single whitespace character (a tab, a newline) is kept as is.</summary>
    private static string CollapseWhitespaceRuns(string s)
    {
        var sb = new StringBuilder(s.Length);
        int i = 0;
        while (i < s.Length)
        {
            if (!IsPythonWhitespace(s[i])) { sb.Append(s[i++]); continue; }
            int start = i;
            while (i < s.Length && IsPythonWhitespace(s[i])) i++;
            if (i - start >= 2) sb.Append(' ');
            else sb.Append(s[start]);
        }
        return sb.ToString();
    }

    /// <summary>Python's <c>str.isspace</c>: .NET's whitespace plus the information separators U+001C..U+001F.</summary>
    private static bool IsPythonWhitespace(char c) => char.IsWhiteSpace(c) || (c >= '\u001c' && c <= '\u001f');
}
