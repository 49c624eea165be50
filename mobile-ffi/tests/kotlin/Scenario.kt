// The field scenario on the JVM, through the generated Kotlin bindings (JNA + the Linux .so),
// as an Android app would drive the library. Run by mobile-ffi/tests/run-jvm.sh.
//
//   Scenario.kt                 offline part only: typed errors for bad input, no server
//   Scenario.kt SERVER_URL      also the scenario against a real center: sign in as a grid
//                               worker, record two cases offline, sync, the center accepts and
//                               dispatches one, sync brings it back, add a note, sync again;
//                               then a department handler's phone (Handler.kt).
//
// The center's side goes through its HTTP workflow API, which is not written yet: `Center`
// codes against the expected contract (the same as test_field_scenario.py) and is the one
// place to adapt when it lands.

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.util.UUID
import kotlin.system.exitProcess
import org.gridsync.ffi.CaseFilter
import org.gridsync.ffi.CodeKind
import org.gridsync.ffi.DeadlineKind
import org.gridsync.ffi.FieldClient
import org.gridsync.ffi.FieldException
import org.gridsync.ffi.NewCase
import org.gridsync.ffi.PartyInput
import org.gridsync.ffi.Role
import org.gridsync.ffi.Status
import org.gridsync.ffi.codeLabel
import org.gridsync.ffi.codeList

const val WORKER = "wang.grid"
const val DISPATCHER = "chen.dispatch"
const val VILLAGE = "330182101201"
const val LABOUR_ID = "330182-labour"
const val LABOUR_NAME = "县人社局劳动保障监察大队"
val PASSWORD: String = System.getenv("GRIDSYNC_DEMO_PASSWORD") ?: "gridsync-demo"

fun step(text: String) = println("==> $text")

/**
 * A store key: 32 random bytes. An Android app makes it once and keeps it wrapped by the
 * Android Keystore (docs/mobile.md); these tests keep it in memory.
 */
fun newKey(): ByteArray = ByteArray(32).also { java.security.SecureRandom().nextBytes(it) }

fun ensure(ok: Boolean, what: () -> String) {
    if (!ok) throw AssertionError(what())
}

/** Runs [block], which must throw the FieldException subtype [T] with [code] (any if null). */
inline fun <reified T : FieldException> expectError(code: String?, block: () -> Unit): T {
    try {
        block()
    } catch (e: FieldException) {
        ensure(e is T) { "expected ${T::class.simpleName}, got $e" }
        val c = errorCode(e)
        ensure(code == null || c == code) { "expected $code, got $c ($e)" }
        return e as T
    }
    throw AssertionError("expected ${T::class.simpleName} $code, nothing was thrown")
}

/** Every FieldException variant carries `code` and `detail`. */
fun errorCode(e: FieldException): String = when (e) {
    is FieldException.InvalidInput -> e.code
    is FieldException.NotFound -> e.code
    is FieldException.Refused -> e.code
    is FieldException.Auth -> e.code
    is FieldException.DeviceRevoked -> e.code
    is FieldException.Network -> e.code
    is FieldException.Server -> e.code
    is FieldException.Malformed -> e.code
    is FieldException.Storage -> e.code
    is FieldException.WrongKey -> e.code
    is FieldException.Internal -> e.code
}

/** Bad input across the boundary, no server needed. */
fun offline(dir: java.nio.file.Path) {
    step("offline: typed errors for bad input")
    val key = newKey()
    val path = dir.resolve("offline.db").toString()
    FieldClient.open(path, "jvm-offline", key).use { phone ->
        ensure(phone.session() == null) { "fresh store has no session" }
        expectError<FieldException.Auth>("no_identity") {
            phone.recordCase(NewCase(title = "拖欠工资", category = "LABOUR_WAGES"))
        }
        expectError<FieldException.InvalidInput>("invalid_code") {
            phone.recordCase(NewCase(title = "x", category = "NOT_A_CATEGORY"))
        }
        expectError<FieldException.InvalidInput>("invalid_code") {
            phone.cases(CaseFilter(riskLevels = listOf("PURPLE")))
        }
        expectError<FieldException.NotFound>("case_not_found") {
            phone.caseDetail(UUID.randomUUID().toString())
        }
        expectError<FieldException.NotFound>("case_not_found") { phone.caseDetail("not-a-uuid") }
        expectError<FieldException.Malformed>(null) {
            phone.applySyncResponse("garbage".toByteArray())
        }
        expectError<FieldException.Network>("network") {
            phone.login("http://127.0.0.1:9", WORKER, "x")
        }
        expectError<FieldException.Auth>("not_signed_in") { phone.sync() }
        expectError<FieldException.InvalidInput>("invalid_url") {
            phone.login("not a url", WORKER, "x")
        }
        ensure(codeList(CodeKind.CATEGORY).size == 18) { "18 categories" }
        ensure(codeLabel(CodeKind.STATUS, Status.DISPATCHED.name)?.labelZh == "已分派") {
            "enum names are the wire codes"
        }
        ensure(phone.prepareSync().isNotEmpty()) { "an empty store still has a request" }
    }
    step("offline: the store opens with its key only")
    expectError<FieldException.WrongKey>("wrong_key") { FieldClient.open(path, "jvm-offline", newKey()) }
    expectError<FieldException.InvalidInput>("invalid_input") {
        FieldClient.open(path, "jvm-offline", ByteArray(16))
    }
    val head = java.io.File(path).readBytes().copyOf(16)
    ensure(!String(head, Charsets.ISO_8859_1).startsWith("SQLite format 3")) { "the file is encrypted" }
    FieldClient.open(path, "jvm-offline", key).use { phone ->
        ensure(phone.session() == null) { "the right key opens it" }
    }
}

/** Center staff over the HTTP API (see test_field_scenario.py for the expected contract). */
class Center(private val url: String) {
    private val http = HttpClient.newHttpClient()
    private val token: String

    init {
        val reply = post("/v1/auth/login", """{"username":"$DISPATCHER","password":"$PASSWORD"}""", null)
        token = Regex("\"access_token\"\\s*:\\s*\"([^\"]+)\"").find(reply)?.groupValues?.get(1)
            ?: throw AssertionError("no access token in $reply")
    }

    private fun post(path: String, json: String, bearer: String?): String {
        val req = HttpRequest.newBuilder(URI.create(url.trimEnd('/') + path))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .apply { if (bearer != null) header("Authorization", "Bearer $bearer") }
            .POST(HttpRequest.BodyPublishers.ofString(json))
            .build()
        val resp = http.send(req, HttpResponse.BodyHandlers.ofString())
        ensure(resp.statusCode() in 200..299) { "center: POST $path -> ${resp.statusCode()} ${resp.body()}" }
        return resp.body()
    }

    private fun act(caseId: String, kind: String, payload: String = "{}") =
        post("/v1/cases/$caseId/actions", """{"kind":"$kind","payload":$payload}""", token)

    fun accept(caseId: String) = act(caseId, "ACCEPT")

    fun dispatchToLabour(caseId: String) = act(
        caseId,
        "DISPATCH",
        """{"to":[{"id":"$LABOUR_ID","name":"$LABOUR_NAME"}],"tier":"COUNTY"}""",
    )
}

fun scenario(url: String, dir: java.nio.file.Path) {
    FieldClient.open(dir.resolve("field.db").toString(), "jvm-scenario-${UUID.randomUUID()}", newKey()).use { phone ->
        step("sign in as the grid worker")
        val session = phone.login(url, WORKER, PASSWORD)
        ensure(session.role == Role.GRID_WORKER) { "role: $session" }
        ensure(session.areaCode == VILLAGE) { "area: $session" }

        step("record two cases offline")
        val wages = phone.recordCase(
            NewCase(
                title = "工地拖欠三名工人工资",
                summary = "包工头以工程款未结为由拖欠三名村民工资共计18000元",
                category = "LABOUR_WAGES",
                riskLevel = "YELLOW",
                amountInvolved = 1_800_000,
                parties = listOf(
                    PartyInput(name = "张三", phone = "13812345678"),
                    PartyInput(name = "某建筑劳务公司", role = "RESPONDENT", idType = "BUSINESS_LICENCE"),
                ),
            ),
        )
        phone.addNoteOfKind(wages, "HOME_VISIT", "入户了解情况")
        phone.submitCase(wages)
        val fence = phone.recordCase(NewCase(title = "宅基地边界围墙纠纷", category = "HOMESTEAD_HOUSING"))
        phone.submitCase(fence)
        val pending = phone.pending()
        ensure(pending.cases == 2u) { "pending: $pending" }

        step("sync: both cases go up")
        var report = phone.sync()
        ensure(report.rejected.isEmpty()) { "rejected: ${report.rejected}" }
        ensure(report.ackedChanges == pending.changes) { "acked: $report vs $pending" }
        ensure(phone.pending().changes == 0u) { "outbox empty" }

        step("the center accepts and dispatches the wages case")
        val status = phone.caseDetail(wages).status
        if (status != Status.DISPATCHED) {
            val center = Center(url)
            if (status == Status.SUBMITTED) center.accept(wages)
            center.dispatchToLabour(wages)
        }

        step("sync: the dispatch comes back")
        report = phone.sync()
        ensure(wages in report.updatedCases) { "updated: $report" }
        val d = phone.caseDetail(wages)
        ensure(d.status == Status.DISPATCHED) { "status ${d.status}" }
        ensure(d.caseNo?.matches(Regex("330182-\\d{8}-\\d+")) == true) { "case no ${d.caseNo}" }
        ensure(d.assignedOrgs.firstOrNull()?.id == LABOUR_ID) { "orgs ${d.assignedOrgs}" }
        ensure(d.deadlines.any { it.kind == DeadlineKind.SIGN }) { "deadlines ${d.deadlines}" }
        ensure(d.timeline.first().kind == "SUBMIT" && d.timeline.last().kind == "DISPATCH") {
            "timeline ${d.timeline.map { it.kind }}"
        }
        ensure(d.parties.first().phone == "13812345678") { "parties ${d.parties}" }
        ensure(phone.cases(CaseFilter(statuses = listOf(Status.DISPATCHED))).any { it.id == wages }) {
            "listed as dispatched"
        }

        step("add a note and sync again")
        phone.addNote(wages, "已告知工人劳动监察大队将介入")
        report = phone.sync()
        ensure(report.ackedChanges >= 1u && report.unsentChanges == 0u) { "report $report" }
        ensure(phone.caseDetail(wages).notes.size == 2) { "two notes" }

        step("sign out")
        phone.logout()
        expectError<FieldException.Auth>("no_identity") { phone.addNote(wages, "x") }
    }
}

fun main(args: Array<String>) {
    val dir = Files.createTempDirectory("gridsync-jvm-")
    try {
        offline(dir)
        if (args.isNotEmpty()) {
            scenario(args[0], dir)
            handlerScenario(args[0], dir)
        }
        println(if (args.isEmpty()) "offline checks: OK" else "field and handler scenarios: OK")
    } catch (e: Throwable) {
        System.err.println("FAILED: $e")
        e.printStackTrace()
        exitProcess(1)
    }
}
