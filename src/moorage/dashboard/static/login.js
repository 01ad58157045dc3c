// The login form: posts the access key to /ui/login and, once signed in, loads the dashboard.

const form = document.getElementById("login");
const message = document.getElementById("message");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  message.textContent = "";
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const response = await fetch("/ui/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString(),
    });
    if (response.ok) {
      location.reload();
      return;
    }
    const body = await response.json().catch(() => null);
    message.textContent = body && body.message ? body.message : `Login failed (HTTP ${response.status}).`;
  } catch (error) {
    message.textContent = `Login failed: ${error.message}`;
  } finally {
    button.disabled = false;
  }
});
